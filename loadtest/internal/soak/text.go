package soak

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/minidbgo/minidbgo/loadtest/internal/report"
)

// WriteText prints a run's summary for people.
func WriteText(w io.Writer, r *Result) {
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "soak: %s, %d clients, at most %s documents of ~%d B (%s preloaded) — %s\n",
		secs(r.DurationSec), r.Clients, report.Num(float64(r.MaxDocs)), r.DocSize,
		report.Num(float64(r.Preloaded)), verdict)
	fmt.Fprintf(w, "  server:      %s\n", r.ServerBin)
	fmt.Fprintf(w, "  env:         %s\n", strings.Join(r.ServerEnv, " "))
	if r.ServerStart != "" {
		fmt.Fprintf(w, "  settings:    %s\n", r.ServerStart)
	}
	fmt.Fprintf(w, "  elapsed:     %.1fs, %s requests (%s/s)\n", r.ElapsedSec, report.Num(float64(r.Requests)),
		report.Num(float64(r.Requests)/max(r.ElapsedSec, 1e-9)))
	fmt.Fprintf(w, "  peak RSS:    %.1f MiB (limit %.0f MiB): sampled %.1f MiB at %.0fs, VmHWM %.1f MiB; final %.1f MiB; %d samples\n",
		r.PeakRSSMB, r.RSSLimitMB, r.PeakSampleMB, r.PeakRSSAtSec, r.HWMMB, r.FinalRSSMB, r.RSSSamples)
	fmt.Fprintf(w, "  Go heap:     max in use %.0f MiB, max sys %.0f MiB", r.MaxHeapMB, r.MaxGoSysMB)
	if g := r.GC; g != nil {
		fmt.Fprintf(w, "; %d GCs, pauses %.1f ms total (max recent %.2f ms), GC CPU %.1f%%",
			g.NumGC, g.PauseTotalMS, g.MaxPauseMS, 100*g.GCCPUFraction)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  disk:        peak %.0f MB; %s documents at the end\n", r.PeakDiskMB, report.Num(float64(r.FinalDocs)))
	fmt.Fprintf(w, "  statuses:    %s\n", statusLine(r.Status))
	fmt.Fprintf(w, "  5xx:         %d unexpected, %d deliberate 503 (overloaded/busy); %d requests without a response\n",
		r.Unexpected5xx, r.Deliberate503, r.Errors)
	fmt.Fprintf(w, "  compactions: %d requested, %d completed, %d failed (longest %.1fs)%s\n",
		r.Compaction.Requested, r.Compaction.Completed, r.Compaction.Failed, r.Compaction.MaxSec, lastErr(r.Compaction))
	for _, x := range []struct {
		name string
		s    StreamStats
	}{{"dumps:", r.Dumps}, {"exports:", r.Exports}} {
		avg := int64(0)
		if x.s.Completed > 0 {
			avg = x.s.Bytes / int64(x.s.Completed)
		}
		fmt.Fprintf(w, "  %-12s %d completed (%s in all, last %s, mean %s, longest %.1fs), %d failed%s\n", x.name,
			x.s.Completed, report.Bytes(x.s.Bytes), report.Bytes(x.s.LastBytes), report.Bytes(avg), x.s.MaxSec, x.s.Failed, lastErr(x.s))
	}
	if len(r.Server) > 0 {
		var parts []string
		for _, k := range serverCounters {
			if v, ok := r.Server[k]; ok {
				parts = append(parts, k+" "+strconv.FormatFloat(v, 'f', -1, 64))
			}
		}
		fmt.Fprintf(w, "  server Δ:    %s\n", strings.Join(parts, "  "))
	}
	fmt.Fprintf(w, "  server log:  %d warnings, %d errors; exit: %s\n", r.ServerLogWarnings, r.ServerLogErrors, r.ServerExit)
	fmt.Fprintf(w, "  %-15s %9s %8s %9s %9s %9s %9s  %s\n", "operation", "requests", "per s", "p50", "p99", "p99.9", "max", "statuses")
	for _, k := range opKinds {
		o, ok := r.Ops[k]
		if !ok {
			continue
		}
		st := statusLine(o.Status)
		if o.Errors > 0 {
			st += fmt.Sprintf(" errors×%d", o.Errors)
		}
		fmt.Fprintf(w, "  %-15s %9d %8s %9s %9s %9s %9s  %s\n", k, o.Requests, report.Num(o.Rate),
			report.Dur(o.P50US), report.Dur(o.P99US), report.Dur(o.P999US), report.Dur(o.MaxUS), st)
	}
	keys := make([]string, 0, len(r.ErrorSamples))
	for k := range r.ErrorSamples {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  error:       %d× %s\n", r.ErrorSamples[k], k)
	}
	for _, l := range r.ServerLogSamples {
		fmt.Fprintf(w, "  server log:  %s\n", l)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(w, "  FAILURE:     %s\n", f)
	}
}

func lastErr(s StreamStats) string {
	if s.LastError == "" {
		return ""
	}
	return "; last error: " + s.LastError
}

func secs(s float64) string {
	if s >= 60 && s == float64(int64(s)) {
		return strconv.FormatInt(int64(s)/60, 10) + "m" + func() string {
			if int64(s)%60 == 0 {
				return ""
			}
			return strconv.FormatInt(int64(s)%60, 10) + "s"
		}()
	}
	return strconv.FormatFloat(s, 'f', -1, 64) + "s"
}

// WriteCSV writes the timeline: one row per sample.
func WriteCSV(w io.Writer, timeline []Sample) error {
	if _, err := fmt.Fprintln(w, "t_s,rss_mb,vm_hwm_mb,heap_inuse_mb,go_sys_mb,num_gc,goroutines,requests,flushes,compacts,tables,immutable_memtables,disk_mb"); err != nil {
		return err
	}
	f := func(v float64) string {
		if v < 0 {
			return ""
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	i := func(v int64) string {
		if v < 0 {
			return ""
		}
		return strconv.FormatInt(v, 10)
	}
	for _, s := range timeline {
		if _, err := fmt.Fprintln(w, strings.Join([]string{f(s.T), f(s.RSSMB), f(s.HWMMB), f(s.HeapInuseMB), f(s.GoSysMB),
			i(s.NumGC), i(s.Goroutines), i(s.Requests), i(s.Flushes), i(s.Compacts), i(s.Tables), i(s.Immutable), f(s.DiskMB)}, ",")); err != nil {
			return err
		}
	}
	return nil
}
