package recovery

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// failedDrill is a drill that recovered but missed its objective, and
// whose recover phase failed.
func failedDrill() *DrillReport {
	return &DrillReport{
		Blueprint: "local", Env: "dev", Commit: "0123456789abcdef", Started: time.Date(2026, 4, 1, 2, 0, 0, 0, time.UTC), Duration: time.Minute,
		Phases: []Phase{
			{Name: DrillUp, Duration: 20 * time.Second, Status: "done"},
			{Name: DrillRecover, Start: 20 * time.Second, Duration: 12 * time.Second, Status: "failed", Detail: "replay: <timeout>"},
			{Name: DrillTeardown, Start: 32 * time.Second, Duration: 5 * time.Second, Status: "done"},
		},
		Recovery: &RTO{Total: 12500 * time.Millisecond, Objective: 10 * time.Second, Phases: []Phase{
			{Name: PhaseCluster, Duration: 4 * time.Second, Status: "done"},
			{Name: PhaseReplay, Duration: 8 * time.Second, Status: "failed"},
		}},
		Failure:     "recover: replay: <timeout> & more\nsecond line",
		Differences: []string{"apps: Deployment/a/b: missing"},
	}
}

// webhook is a loopback server answering with the given statuses in turn
// (the last one for ever after) and keeping every request body.
type webhook struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	types  []string
	method string
}

func newWebhook(t *testing.T, statuses ...int) *webhook {
	w := &webhook{}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		n := len(w.bodies)
		w.bodies = append(w.bodies, body)
		w.types = append(w.types, r.Header.Get("Content-Type"))
		w.method = r.Method
		w.mu.Unlock()
		rw.WriteHeader(statuses[min(n, len(statuses)-1)])
		io.WriteString(rw, "answer from the test server\n")
	}))
	t.Cleanup(w.Close)
	return w
}

func (w *webhook) requests() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.bodies)
}

func TestNotifyJSONPayload(t *testing.T) {
	hook := newWebhook(t, http.StatusOK)
	opts := NotifyOptions{URL: hook.URL + "/hooks/T0KEN", ReportURL: "https://ci.example.com/run/7", Backoff: time.Millisecond}
	if err := Notify(t.Context(), opts, failedDrill()); err != nil {
		t.Fatal(err)
	}
	if hook.requests() != 1 || hook.method != http.MethodPost || hook.types[0] != "application/json" {
		t.Fatalf("%d requests, method %s, content type %v", hook.requests(), hook.method, hook.types)
	}
	var n Notification
	if err := json.Unmarshal(hook.bodies[0], &n); err != nil {
		t.Fatalf("payload %s: %v", hook.bodies[0], err)
	}
	if n.Event != "rekindle.drill" || n.Result != "failed" || n.RTOSeconds != 12.5 || n.ObjectiveSeconds != 10 || n.ObjectiveMet ||
		n.ReportURL != "https://ci.example.com/run/7" || n.Differences != 1 || n.Blueprint != "local" || n.Env != "dev" {
		t.Errorf("payload %+v", n)
	}
	if got := strings.Join(n.FailingPhases, ","); got != "recover,recovery/replay,rto-objective" {
		t.Errorf("failing phases %q", got)
	}
}

func TestNotifySlackFormat(t *testing.T) {
	hook := newWebhook(t, http.StatusOK)
	opts := NotifyOptions{URL: hook.URL, Format: NotifySlack, ReportURL: "https://ci.example.com/run/7"}
	if err := Notify(t.Context(), opts, failedDrill()); err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	if err := json.Unmarshal(hook.bodies[0], &body); err != nil || len(body) != 1 {
		t.Fatalf("slack body %s: %v", hook.bodies[0], err)
	}
	text := body["text"]
	for _, want := range []string{"*rekindle drill local/dev FAILED*", "RTO 12.5s against the 10s objective: missed", "Failing: recover, recovery/replay, rto-objective",
		"&lt;timeout&gt; &amp; more", "<https://ci.example.com/run/7|Drill report>"} {
		if !strings.Contains(text, want) {
			t.Errorf("slack text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "second line") {
		t.Error("slack text holds more than the failure's first line")
	}
}

// TestNotifyRetries5xx: 503, 502, then 200: three requests with the
// doubling backoff between them.
func TestNotifyRetries5xx(t *testing.T) {
	hook := newWebhook(t, http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusOK)
	start := time.Now()
	err := Notify(t.Context(), NotifyOptions{URL: hook.URL, Attempts: 4, Backoff: 20 * time.Millisecond}, failedDrill())
	if err != nil {
		t.Fatalf("notify after two 5xx: %v", err)
	}
	if n := hook.requests(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	if took := time.Since(start); took < 60*time.Millisecond {
		t.Errorf("took %s: the backoff (20ms, then 40ms) was not waited", took)
	}
	for i, b := range hook.bodies[1:] {
		if !bytes.Equal(b, hook.bodies[0]) {
			t.Errorf("retry %d sent a different body", i+1)
		}
	}
}

// TestNotifyFailingServer: a server that always fails is tried Attempts
// times and the error names its answer and host, never the URL's path; a
// 4xx answer is final; a closed port is a network error, retried.
func TestNotifyFailingServer(t *testing.T) {
	hook := newWebhook(t, http.StatusInternalServerError)
	err := Notify(t.Context(), NotifyOptions{URL: hook.URL + "/services/SECRET-TOKEN", Attempts: 3, Backoff: time.Millisecond}, failedDrill())
	if err == nil || !strings.Contains(err.Error(), "500 Internal Server Error") || strings.Contains(err.Error(), "SECRET-TOKEN") {
		t.Errorf("error %v: want the 500 and no token", err)
	}
	if n := hook.requests(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}

	bad := newWebhook(t, http.StatusNotFound)
	if err := Notify(t.Context(), NotifyOptions{URL: bad.URL, Attempts: 3, Backoff: time.Millisecond}, failedDrill()); err == nil || bad.requests() != 1 {
		t.Errorf("404: error %v after %d requests, want an error after 1", err, bad.requests())
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL + "/hooks/SECRET-TOKEN"
	closed.Close()
	err = Notify(t.Context(), NotifyOptions{URL: url, Attempts: 2, Backoff: time.Millisecond}, failedDrill())
	if err == nil || strings.Contains(err.Error(), "SECRET-TOKEN") || !strings.Contains(err.Error(), "refused") {
		t.Errorf("closed port: %v", err)
	}
}

// TestPublishOnlyWarns: a drill whose webhook and Pushgateway always fail
// gets two warnings, neither holding the URLs' tokens.
func TestPublishOnlyWarns(t *testing.T) {
	hook := newWebhook(t, http.StatusBadGateway)
	var warn bytes.Buffer
	opts := DrillOptions{
		Notify:      NotifyOptions{URL: hook.URL + "/T0KEN", Attempts: 2, Backoff: time.Millisecond},
		Pushgateway: PushOptions{URL: hook.URL + "/gw/T0KEN", Attempts: 2, Backoff: time.Millisecond},
		Warn:        &warn,
	}
	failedDrill().publish(t.Context(), opts)
	out := warn.String()
	if strings.Count(out, "WARNING: ") != 2 || !strings.Contains(out, "notification not sent") || !strings.Contains(out, "metrics not pushed") || strings.Contains(out, "T0KEN") {
		t.Errorf("warnings:\n%s", out)
	}
	if hook.requests() != 4 {
		t.Errorf("%d requests, want 2 pushes and 2 posts", hook.requests())
	}
}

func TestNotifyOptionsValidate(t *testing.T) {
	for _, c := range []struct {
		opts NotifyOptions
		ok   bool
	}{
		{NotifyOptions{}, true},
		{NotifyOptions{URL: "https://hooks.example.com/x", Format: NotifySlack}, true},
		{NotifyOptions{URL: "hooks.example.com/x"}, false},
		{NotifyOptions{URL: "ftp://hooks.example.com/x"}, false},
		{NotifyOptions{URL: "https://hooks.example.com/x", Format: "xml"}, false},
	} {
		if err := c.opts.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: %v", c.opts, err)
		}
	}
}
