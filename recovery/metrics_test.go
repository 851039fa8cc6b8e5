package recovery

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parseMetrics parses the Prometheus text format with Prometheus's own
// parser.
func parseMetrics(t *testing.T, data []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the metrics do not parse: %v\n%s", err, data)
	}
	return fams
}

// value is the gauge of family name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no family %s", name)
	}
	if f.GetType() != dto.MetricType_GAUGE {
		t.Errorf("%s is a %s, want a gauge", name, f.GetType())
	}
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		ok := labels["blueprint"] == "local" && labels["env"] == "dev"
		for k, v := range want {
			ok = ok && labels[k] == v
		}
		if ok {
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("%s has no series with labels %v", name, want)
	return 0
}

func TestMetricsFileParses(t *testing.T) {
	rep := failedDrill()
	path := filepath.Join(t.TempDir(), "textfile", "rekindle.prom")
	if err := rep.WriteMetricsFile(path); err != nil {
		t.Fatal(err)
	}
	// A second write replaces the first whole.
	rep.Passed = true
	if err := rep.WriteMetricsFile(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fams := parseMetrics(t, data)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"rekindle_drill_rto_seconds", nil, 12.5},
		{"rekindle_drill_rto_objective_seconds", nil, 10},
		{"rekindle_drill_rto_objective_met", nil, 0},
		{"rekindle_drill_success", nil, 1},
		{"rekindle_drill_duration_seconds", nil, 60},
		{"rekindle_drill_last_run_timestamp_seconds", nil, float64(rep.Started.Unix() + 60)},
		{"rekindle_drill_phase_duration_seconds", map[string]string{"phase": "recover"}, 12},
		{"rekindle_drill_phase_duration_seconds", map[string]string{"phase": "teardown"}, 5},
		{"rekindle_drill_recovery_phase_duration_seconds", map[string]string{"phase": "replay"}, 8},
		{"rekindle_drill_differences", nil, 1},
	} {
		if got := value(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %g, want %g", c.name, c.labels, got, c.want)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("the directory holds %d files: a temporary file was left", len(entries))
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode: %v %v", fi.Mode(), err)
	}
}

// TestMetricsLabelsEscaped: label values with quotes, backslashes and
// newlines still parse, to the same value.
func TestMetricsLabelsEscaped(t *testing.T) {
	rep := failedDrill()
	rep.Blueprint = "a\"b\\c\nd"
	fams := parseMetrics(t, rep.Metrics())
	got := fams["rekindle_drill_success"].Metric[0].Label[0].GetValue()
	if got != rep.Blueprint {
		t.Errorf("label %q, want %q", got, rep.Blueprint)
	}
}

// TestPushgateway pushes to a loopback stand-in for the Pushgateway: a PUT
// to the drill's group whose body parses as the same metrics.
func TestPushgateway(t *testing.T) {
	var mu sync.Mutex
	var paths, methods []string
	var body []byte
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		paths, methods, body = append(paths, r.URL.EscapedPath()), append(methods, r.Method), b
		if len(paths) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // retried
			return
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		if _, err := p.TextToMetricFamilies(bytes.NewReader(b)); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	}))
	defer gw.Close()
	rep := failedDrill()
	if err := PushMetrics(t.Context(), PushOptions{URL: gw.URL + "/", Backoff: 1}, rep); err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 || paths[1] != "/metrics/job/rekindle_drill/blueprint/local/env/dev" || methods[1] != http.MethodPut {
		t.Errorf("requests %v %v", methods, paths)
	}
	if got := value(t, parseMetrics(t, body), "rekindle_drill_rto_seconds", nil); got != 12.5 {
		t.Errorf("pushed RTO %g", got)
	}
	u, err := pushURL("http://gw:9091", "a/b", "")
	if err != nil || u != "http://gw:9091/metrics/job/rekindle_drill/blueprint@base64/YS9i/env@base64/=" {
		t.Errorf("grouping key with a slash and an empty value: %s %v", u, err)
	}
}
