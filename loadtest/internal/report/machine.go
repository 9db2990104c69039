package report

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where a report was measured.
type Machine struct {
	Date       string  `json:"date"` // RFC 3339, UTC
	OS         string  `json:"os"`
	Arch       string  `json:"arch"`
	Kernel     string  `json:"kernel,omitempty"`
	CPUModel   string  `json:"cpu_model,omitempty"`
	NumCPU     int     `json:"nproc"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	MemoryGiB  float64 `json:"memory_gib,omitempty"`
	GoVersion  string  `json:"go_version"`
}

// DescribeMachine describes this machine now.
func DescribeMachine() Machine {
	m := Machine{
		Date:       time.Now().UTC().Format(time.RFC3339),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion:  runtime.Version(),
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.CPUModel = procField("/proc/cpuinfo", "model name")
	if kb := procField("/proc/meminfo", "MemTotal"); kb != "" {
		if v, err := strconv.ParseFloat(strings.Fields(kb)[0], 64); err == nil {
			m.MemoryGiB = round(v/(1<<20), 1)
		}
	}
	return m
}

// procField returns the value of the first "name: value" line of a /proc
// file, or "".
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// String summarises the machine on one line.
func (m Machine) String() string {
	s := strconv.Itoa(m.NumCPU) + " CPU"
	if m.CPUModel != "" {
		s += " (" + m.CPUModel + ")"
	}
	if m.MemoryGiB > 0 {
		s += ", " + strconv.FormatFloat(m.MemoryGiB, 'f', 1, 64) + " GiB"
	}
	s += ", " + m.OS + "/" + m.Arch
	if m.Kernel != "" {
		s += " " + m.Kernel
	}
	s += ", " + m.GoVersion + ", GOMAXPROCS " + strconv.Itoa(m.GOMAXPROCS) + ", " + m.Date
	return s
}
