package httpd

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// promQLWords are the PromQL keywords, aggregations and functions that
// look like metric names; functions are also recognised by their "(".
var promQLWords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"offset": true, "bool": true, "and": true, "or": true, "unless": true, "inf": true, "nan": true,
}

var (
	promStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promBraces   = regexp.MustCompile(`\{[^{}]*\}|\[[^\[\]]*\]`)
	promGrouping = regexp.MustCompile(`(?i)\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	promNumber   = regexp.MustCompile(`\b\d+(\.\d+)?(e[+-]?\d+)?\b`)
	promOffset   = regexp.MustCompile(`(?i)\boffset\s+-?[0-9a-z]+`)
)

// promQLMetrics returns the metric names a PromQL expression selects.
func promQLMetrics(expr string) []string {
	s := promStrings.ReplaceAllString(expr, `""`)
	for prev := ""; prev != s; {
		prev = s
		s = promBraces.ReplaceAllString(s, " ")
	}
	s = promGrouping.ReplaceAllString(s, " ")
	s = promOffset.ReplaceAllString(s, " ")
	s = promNumber.ReplaceAllString(s, " ")
	var names []string
	for _, m := range promIdent.FindAllStringSubmatch(s, -1) {
		if m[1] != "" || promQLWords[strings.ToLower(m[0])] || strings.HasPrefix(m[0], "$") {
			continue // a function or aggregation, a keyword
		}
		names = append(names, m[0])
	}
	return names
}

func TestPromQLMetrics(t *testing.T) {
	require.Equal(t, []string{"a_total", "b_bucket", "c"},
		promQLMetrics(`sum by (route, le) (rate(a_total{job="x", s=~"5.."}[5m])) / histogram_quantile(0.9, b_bucket[$__rate_interval] offset 1h) > on (instance) group_left(version) c * 1e3`))
}

// exportedNames are the sample names /metrics exports: each family's name
// and, for histograms and summaries, its _bucket, _sum and _count.
func exportedNames(mfs map[string]*dto.MetricFamily) map[string]bool {
	out := map[string]bool{"up": true} // Prometheus adds up to every target
	for name, mf := range mfs {
		out[name] = true
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM:
			out[name+"_bucket"], out[name+"_sum"], out[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			out[name+"_sum"], out[name+"_count"] = true, true
		}
	}
	return out
}

// TestDeployReferencesExportedMetrics: every metric the Grafana dashboard
// and the alerting rules in deploy/ query is one /metrics exports.
func TestDeployReferencesExportedMetrics(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seed()
	mfs, _ := scrape(t, e, "")
	exported := exportedNames(mfs)

	var exprs []string
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	b, err := os.ReadFile("../deploy/grafana-dashboard.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &dash))
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			require.NotEmpty(t, tg.Expr, "panel %q", p.Title)
			exprs = append(exprs, tg.Expr)
		}
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	b, err = os.ReadFile("../deploy/alerts.yml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &rules))
	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Expr, "alert %q", r.Alert)
			alerts[r.Alert] = true
			exprs = append(exprs, r.Expr)
		}
	}
	for _, want := range []string{"MiniDBGoDown", "MiniDBGoHigh5xxRate", "MiniDBGoBackpressure", "MiniDBGoMemoryNearLimit", "MiniDBGoEngineReadOnly", "MiniDBGoDiskErrors"} {
		require.True(t, alerts[want], "alert %s is missing from deploy/alerts.yml", want)
	}

	used := map[string]bool{}
	for _, expr := range exprs {
		names := promQLMetrics(expr)
		require.NotEmpty(t, names, "no metric in %q", expr)
		for _, n := range names {
			used[n] = true
			require.True(t, exported[n], "deploy/ queries %s, which /metrics does not export (in %q)", n, expr)
		}
	}
	var list []string
	for n := range used {
		list = append(list, n)
	}
	sort.Strings(list)
	t.Logf("deploy/ queries %d metrics: %s", len(list), strings.Join(list, " "))
}
