package httpd

import (
	"bytes"
	"net/http"
	"runtime"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// scrape fetches /metrics with the Accept header and parses the text
// format with Prometheus's own parser.
func scrape(t *testing.T, e *env, accept string) (map[string]*dto.MetricFamily, response) {
	t.Helper()
	r := mustStatus(t, e.do("GET", "/metrics", nil, "Accept", accept), http.StatusOK)
	if strings.HasPrefix(r.header.Get("Content-Type"), "application/openmetrics-text") {
		return nil, r
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(r.body))
	require.NoError(t, err)
	return mfs, r
}

// TestPrometheusStandardFamilies: /metrics has the process and Go
// families stock dashboards query, under their standard names and types,
// and minidbgo_build_info; they parse with Prometheus's own parser.
func TestPrometheusStandardFamilies(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{Version: "1.2.3"}})
	e.seed()
	runtime.GC() // so that the GC summary has an observation
	mfs, r := scrape(t, e, "")
	require.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "text/plain; version=0.0.4"), r.header.Get("Content-Type"))
	want := map[string]dto.MetricType{
		"process_cpu_seconds_total":        dto.MetricType_COUNTER,
		"process_resident_memory_bytes":    dto.MetricType_GAUGE,
		"process_virtual_memory_bytes":     dto.MetricType_GAUGE,
		"process_start_time_seconds":       dto.MetricType_GAUGE,
		"process_open_fds":                 dto.MetricType_GAUGE,
		"process_max_fds":                  dto.MetricType_GAUGE,
		"go_gc_duration_seconds":           dto.MetricType_SUMMARY,
		"go_goroutines":                    dto.MetricType_GAUGE,
		"go_threads":                       dto.MetricType_GAUGE,
		"go_info":                          dto.MetricType_GAUGE,
		"go_gc_gomemlimit_bytes":           dto.MetricType_GAUGE,
		"go_gc_gogc_percent":               dto.MetricType_GAUGE,
		"go_memstats_alloc_bytes":          dto.MetricType_GAUGE,
		"go_memstats_heap_alloc_bytes":     dto.MetricType_GAUGE,
		"go_memstats_heap_inuse_bytes":     dto.MetricType_GAUGE,
		"go_memstats_sys_bytes":            dto.MetricType_GAUGE,
		"go_memstats_last_gc_time_seconds": dto.MetricType_GAUGE,
		"minidbgo_build_info":              dto.MetricType_GAUGE,
		// The server's own families are still there.
		"minidbgo_http_requests_total":           dto.MetricType_COUNTER,
		"minidbgo_http_request_duration_seconds": dto.MetricType_HISTOGRAM,
		"minidbgo_engine_wal_syncs_total":        dto.MetricType_COUNTER,
		"minidbgo_process_memory_limit_bytes":    dto.MetricType_GAUGE,
	}
	for name, typ := range want {
		mf, ok := mfs[name]
		require.True(t, ok, "family %s is missing", name)
		require.Equal(t, typ, mf.GetType(), name)
		require.NotEmpty(t, mf.GetMetric(), name)
	}
	require.Positive(t, mfs["process_resident_memory_bytes"].GetMetric()[0].GetGauge().GetValue())
	require.Positive(t, mfs["process_start_time_seconds"].GetMetric()[0].GetGauge().GetValue())
	require.Positive(t, mfs["go_gc_duration_seconds"].GetMetric()[0].GetSummary().GetSampleCount())
	bi := mfs["minidbgo_build_info"].GetMetric()[0]
	labels := map[string]string{}
	for _, l := range bi.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	require.Equal(t, map[string]string{"version": "1.2.3", "goversion": runtime.Version()}, labels)
	require.Equal(t, 1.0, bi.GetGauge().GetValue())
}

// TestPrometheusNegotiation: a scraper that accepts OpenMetrics (as
// Prometheus does) gets it, ending in # EOF; others get the text format.
func TestPrometheusNegotiation(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seed()
	const prometheusAccept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
	for _, accept := range []string{prometheusAccept, "application/openmetrics-text"} {
		_, r := scrape(t, e, accept)
		require.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "application/openmetrics-text; version="), r.header.Get("Content-Type"))
		body := string(r.body)
		require.True(t, strings.HasSuffix(body, "\n# EOF\n"), "an OpenMetrics exposition ends with # EOF")
		require.Equal(t, 1, strings.Count(body, "# EOF"))
		for _, want := range []string{
			"# TYPE process_cpu_seconds counter\n",
			"\nprocess_cpu_seconds_total ",
			"# TYPE minidbgo_http_requests counter\n",
			`minidbgo_http_requests_total{route="/api/{col}",method="POST",status="201"} 4`,
			"# TYPE minidbgo_build_info gauge\n",
		} {
			require.Contains(t, body, want)
		}
	}
	for _, accept := range []string{"", "text/plain", "*/*", "application/json"} {
		mfs, r := scrape(t, e, accept)
		require.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "text/plain; version=0.0.4"), "Accept %q: %s", accept, r.header.Get("Content-Type"))
		require.NotContains(t, string(r.body), "# EOF")
		require.Contains(t, mfs, "process_cpu_seconds_total")
	}
}
