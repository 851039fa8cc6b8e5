package agent

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMetricsAndProbes(t *testing.T) {
	m := NewMetrics("eu-1")
	h := &Health{StallAfter: time.Hour}
	srv := httptest.NewServer(Handler(m, h))
	defer srv.Close()

	if code, body := scrape(t, srv, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "first pass") {
		t.Errorf("readyz before any pass: %d %q", code, body)
	}
	if code, _ := scrape(t, srv, "/healthz"); code != http.StatusOK {
		t.Errorf("healthz at start: %d", code)
	}

	end := time.Unix(1700000000, 0)
	h.Start(end.Add(-2 * time.Second))
	res := &Result{Cluster: "eu-1", Commit: "0123456789abcdef", Desired: 5, Applied: 5, Healthy: 4,
		Workloads: []WorkloadResult{{Name: "apps", Applied: 3, Healthy: 2}, {Name: "db", Applied: 2, Healthy: 2}},
		Failed:    []FailedObject{{Workload: "apps", Object: "Deployment/shop/web", Reason: "not ready"}},
		Drifted:   []ObjectRef{{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "cfg"}},
		Pruned:    []ObjectRef{{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "old"}, {Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "gone"}},
	}
	m.Observe(res, nil, 2*time.Second, end)
	h.Done(nil)
	_, body := scrape(t, srv, "/metrics")
	for _, want := range []string{
		`rekindle_agent_pass_duration_seconds_count{cluster="eu-1",result="success"} 1`,
		`rekindle_agent_pass_duration_seconds_bucket{cluster="eu-1",result="success",le="2.5"} 1`,
		`rekindle_agent_passes_total{cluster="eu-1",result="success"} 1`,
		`rekindle_agent_passes_total{cluster="eu-1",result="error"} 0`,
		`rekindle_agent_workload_objects_applied{cluster="eu-1",workload="apps"} 3`,
		`rekindle_agent_workload_objects_healthy{cluster="eu-1",workload="apps"} 2`,
		`rekindle_agent_workload_objects_failed{cluster="eu-1",workload="apps"} 1`,
		`rekindle_agent_workload_objects_failed{cluster="eu-1",workload="db"} 0`,
		`rekindle_agent_objects_pruned_total{cluster="eu-1",kind="ConfigMap"} 1`,
		`rekindle_agent_objects_pruned_total{cluster="eu-1",kind="Deployment"} 1`,
		`rekindle_agent_drift_corrections_total{cluster="eu-1",kind="ConfigMap"} 1`,
		`rekindle_agent_ready{cluster="eu-1"} 0`,
		`rekindle_agent_last_pass_timestamp_seconds{cluster="eu-1"} 1.7e+09`,
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Not fully applied: no last applied commit yet.
	if strings.Contains(body, "rekindle_agent_last_applied_commit_info{") {
		t.Errorf("a pass with a failed object set the last applied commit")
	}
	if code, _ := scrape(t, srv, "/readyz"); code != http.StatusOK {
		t.Errorf("readyz after a pass: %d", code)
	}

	// A fully applied pass at a new commit, then one that fails as a whole;
	// workload db left the render.
	ok := &Result{Cluster: "eu-1", Commit: "fedcba9876543210", Desired: 3, Applied: 3, Healthy: 3,
		Workloads: []WorkloadResult{{Name: "apps", Applied: 3, Healthy: 3}}}
	m.Observe(ok, nil, time.Second, end.Add(time.Minute))
	m.Observe(nil, errors.New("fetch blueprint: connection refused"), 50*time.Millisecond, end.Add(2*time.Minute))
	h.Done(errors.New("fetch blueprint: connection refused"))
	_, body = scrape(t, srv, "/metrics")
	for _, want := range []string{
		`rekindle_agent_last_applied_commit_info{cluster="eu-1",commit="fedcba9876543210"} 1`,
		`rekindle_agent_last_applied_timestamp_seconds{cluster="eu-1"} 1.70000006e+09`,
		`rekindle_agent_passes_total{cluster="eu-1",result="error"} 1`,
		`rekindle_agent_ready{cluster="eu-1"} 0`,
		`rekindle_agent_workload_objects_failed{cluster="eu-1",workload="apps"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, `workload="db"`) {
		t.Error("a workload that left the render is still reported")
	}
	if code, body := scrape(t, srv, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "connection refused") {
		t.Errorf("readyz after a failed pass: %d %q", code, body)
	}

	// A pass stuck longer than StallAfter fails liveness.
	h.StallAfter = time.Millisecond
	h.Start(time.Now().Add(-time.Second))
	if code, body := scrape(t, srv, "/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "running for") {
		t.Errorf("healthz during a stuck pass: %d %q", code, body)
	}
}
