package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// GuideWrites, GuideReads and GuideRSS are the guide's expected
// performance ("Expected Performance" in its Load Testing section):
// writes/s, reads/s and MB of memory under load.
var (
	GuideWrites = Range{Min: 2000, Max: 5000}
	GuideReads  = Range{Min: 10000, Max: 20000}
	GuideRSS    = Range{Min: 50, Max: 150}
)

// Verdict places v relative to r: "below", "within" or "above".
func (r Range) Verdict(v float64) string {
	switch {
	case v < r.Min:
		return "below"
	case v > r.Max:
		return "above"
	}
	return "within"
}

// String formats the range as "2,000–5,000".
func (r Range) String() string { return Num(r.Min) + "–" + Num(r.Max) }

// Num formats v with thousands separators and no decimals (one decimal
// below 100).
func Num(v float64) string {
	if v < 100 && v != float64(int64(v)) {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	s := strconv.FormatInt(int64(v+0.5), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Dur formats a latency in microseconds: "850µs", "12.3ms", "1.25s".
func Dur(us float64) string {
	switch {
	case us < 10:
		return strconv.FormatFloat(us, 'f', 2, 64) + "µs"
	case us < 1000:
		return strconv.FormatFloat(us, 'f', 0, 64) + "µs"
	case us < 100e3:
		return strconv.FormatFloat(us/1e3, 'f', 2, 64) + "ms"
	case us < 1e6:
		return strconv.FormatFloat(us/1e3, 'f', 0, 64) + "ms"
	}
	return strconv.FormatFloat(us/1e6, 'f', 2, 64) + "s"
}

// Bytes formats a byte count in SI units: "1.2 MB".
func Bytes(n int64) string {
	v := float64(n)
	for _, u := range []string{"B", "kB", "MB", "GB"} {
		if v < 1000 || u == "GB" {
			if u == "B" {
				return strconv.FormatInt(n, 10) + " B"
			}
			return strconv.FormatFloat(v, 'f', 1, 64) + " " + u
		}
		v /= 1000
	}
	return ""
}

// statusLine formats status counts as "201×9990 503×10".
func statusLine(m map[string]int64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+"×"+strconv.FormatInt(m[k], 10))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// WriteText prints a run as a hey-style summary.
func WriteText(w io.Writer, r *Run) {
	limit := strconv.Itoa(r.Concurrency) + " workers"
	if r.Limit > 0 {
		limit += ", -n " + strconv.FormatInt(r.Limit, 10)
	}
	if r.LimitSec > 0 {
		limit += ", -d " + strconv.FormatFloat(r.LimitSec, 'f', -1, 64) + "s"
	}
	fmt.Fprintf(w, "%s → %s (%s)\n", r.Name, r.Target, limit)
	unit := "requests/s"
	if r.Kind == "engine" {
		unit = "ops/s"
	}
	fmt.Fprintf(w, "  %-12s %s", unit+":", Num(r.Rate))
	if r.Items != r.Requests && r.Requests > 0 {
		fmt.Fprintf(w, "  (%s items/s)", Num(r.ItemRate))
	}
	if r.MBPerSec > 0 {
		fmt.Fprintf(w, "  %.1f MB/s", r.MBPerSec)
	}
	fmt.Fprintln(w)
	if b := r.Baseline; b != nil {
		fmt.Fprintf(w, "  %-12s %s requests/s → ratio %.3f (p50 %s, p99 %s", "baseline:", Num(b.Rate), r.Ratio,
			Dur(b.LatencyUS.P50), Dur(b.LatencyUS.P99))
		if b.PeakRSSMB > 0 {
			fmt.Fprintf(w, ", peak RSS %.1f MiB", b.PeakRSSMB)
		}
		fmt.Fprintln(w, ")")
	}
	if r.Expected != nil {
		fmt.Fprintf(w, "  %-12s %s/s: %s\n", "guide:", r.Expected, r.Expected.Verdict(r.Rate))
	}
	fmt.Fprintf(w, "  %-12s %d in %.3fs, %d errors", "requests:", r.Requests, r.ElapsedSec, r.Errors)
	if r.Non2xx > 0 {
		fmt.Fprintf(w, ", %d non-2xx", r.Non2xx)
	}
	fmt.Fprintln(w)
	l := r.LatencyUS
	fmt.Fprintf(w, "  %-12s mean %s  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n", "latency:",
		Dur(l.Mean), Dur(l.P50), Dur(l.P90), Dur(l.P99), Dur(l.P999), Dur(l.Max))
	fmt.Fprintf(w, "  %-12s %s\n", "status:", statusLine(r.Status))
	for _, k := range sortedKeys(r.ErrorCause) {
		fmt.Fprintf(w, "  %-12s %d× %s\n", "error:", r.ErrorCause[k], k)
	}
	if r.BytesIn > 0 || r.BytesOut > 0 {
		fmt.Fprintf(w, "  %-12s in %s, out %s\n", "bytes:", Bytes(r.BytesIn), Bytes(r.BytesOut))
	}
	if r.PeakRSSMB > 0 {
		fmt.Fprintf(w, "  %-12s %.1f MiB (%s)", "peak RSS:", r.PeakRSSMB, r.RSSSource)
		if r.ExpectedRSS != nil {
			fmt.Fprintf(w, "; guide %s MB: %s", r.ExpectedRSS, r.ExpectedRSS.Verdict(r.PeakRSSMB))
		}
		fmt.Fprintln(w)
	}
	if len(r.Extra) > 0 {
		var parts []string
		for _, k := range sortedKeys(r.Extra) {
			parts = append(parts, k+" "+strconv.FormatFloat(r.Extra[k], 'f', -1, 64))
		}
		label := "server:"
		if r.Kind == "engine" {
			label = "engine:"
		}
		fmt.Fprintf(w, "  %-12s %s\n", label, strings.Join(parts, "  "))
	}
}

// WriteGuide prints the guide's two runs side by side with its expected
// performance.
func WriteGuide(w io.Writer, write, read *Run) {
	fmt.Fprintln(w, "The guide's load test (hey -n 10000 -c 50), reproduced with unique write ids")
	fmt.Fprintf(w, "  %-22s %14s %16s  %s\n", "", "measured", "guide expects", "")
	row := func(name string, v float64, r Range) {
		fmt.Fprintf(w, "  %-22s %14s %16s  %s\n", name, Num(v), r.String(), r.Verdict(v))
	}
	row("writes (requests/s)", write.Rate, GuideWrites)
	row("reads (requests/s)", read.Rate, GuideReads)
	rss := max(write.PeakRSSMB, read.PeakRSSMB)
	if rss > 0 {
		row("peak RSS (MiB)", rss, GuideRSS)
	} else {
		fmt.Fprintf(w, "  %-22s %14s %16s\n", "peak RSS (MiB)", "n/a", GuideRSS.String())
	}
	for _, r := range []*Run{write, read} {
		fmt.Fprintf(w, "  %-22s p50 %s  p99 %s  p99.9 %s  max %s  errors %d  non-2xx %d",
			r.Name+" latency", Dur(r.LatencyUS.P50), Dur(r.LatencyUS.P99), Dur(r.LatencyUS.P999), Dur(r.LatencyUS.Max),
			r.Errors, r.Non2xx)
		if r.Baseline != nil {
			fmt.Fprintf(w, "  ratio to baseline %.3f", r.Ratio)
		}
		fmt.Fprintln(w)
	}
}
