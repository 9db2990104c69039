package httpd

import (
	"bytes"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"
)

// GET /metrics serves what writePrometheus writes (the server's own
// minidbgo_* families) together with the standard families every
// Prometheus exporter written in Go has, under their standard names, so
// that stock dashboards and alerts work: process_* (CPU seconds, RSS,
// virtual memory, open and max file descriptors, start time) and go_*
// (GC pause summary, memstats, goroutines, threads, GOGC, GOMEMLIMIT,
// go_info), from client_golang's own collectors; and
// minidbgo_build_info{version,goversion}.
//
// The format is negotiated as client_golang's promhttp does: a scraper
// that accepts OpenMetrics (Prometheus does) gets it, with its # EOF;
// anyone else gets the text format 0.0.4.

// stdRegistry holds the process and Go collectors: they describe the
// process, not a Server, so there is one for all.
var stdRegistry = sync.OnceValue(func() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	)
	return reg
})

// buildInfo is minidbgo_build_info: 1, labelled with the server's version
// and the Go version that built it.
func buildInfo(version string) *dto.MetricFamily {
	return &dto.MetricFamily{
		Name: proto.String("minidbgo_build_info"),
		Help: proto.String("The server's version and the Go version that built it; always 1."),
		Type: dto.MetricType_GAUGE.Enum(),
		Metric: []*dto.Metric{{
			Label: []*dto.LabelPair{
				{Name: proto.String("goversion"), Value: proto.String(runtime.Version())},
				{Name: proto.String("version"), Value: proto.String(version)},
			},
			Gauge: &dto.Gauge{Value: proto.Float64(1)},
		}},
	}
}

// gatherAll returns every family GET /metrics serves, sorted by name.
func (s *Server) gatherAll() ([]*dto.MetricFamily, error) {
	var buf bytes.Buffer
	if err := s.writePrometheus(&buf); err != nil {
		return nil, err
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	own, err := parser.TextToMetricFamilies(&buf)
	if err != nil {
		return nil, fmt.Errorf("own exposition: %w", err)
	}
	std, err := stdRegistry().Gather()
	if err != nil {
		return nil, fmt.Errorf("process and Go collectors: %w", err)
	}
	all := append(std, buildInfo(s.cfg.Version))
	for name, mf := range own {
		if slices.ContainsFunc(all, func(m *dto.MetricFamily) bool { return m.GetName() == name }) {
			return nil, fmt.Errorf("metric family %s is exported twice", name)
		}
		all = append(all, mf)
	}
	slices.SortFunc(all, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return all, nil
}

// promHandler serves GET /metrics.
func (s *Server) promHandler(w http.ResponseWriter, r *http.Request) {
	mfs, err := s.gatherAll()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	format := expfmt.NegotiateIncludingOpenMetrics(r.Header)
	w.Header().Set("Content-Type", string(format))
	enc := expfmt.NewEncoder(w, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			panic(http.ErrAbortHandler) // the status is sent: cut the response
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		if err := c.Close(); err != nil { // OpenMetrics' # EOF
			panic(http.ErrAbortHandler)
		}
	}
}
