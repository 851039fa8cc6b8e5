package recovery

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// metricsJob is the Pushgateway job the drill's metrics are pushed under.
const metricsJob = "rekindle_drill"

// Metrics renders the drill in the Prometheus text exposition format, for
// node_exporter's textfile collector or a Pushgateway. Every series carries
// the blueprint and env labels.
func (rep *DrillReport) Metrics() []byte {
	var b strings.Builder
	base := [][2]string{{"blueprint", rep.Blueprint}, {"env", rep.Env}}
	family := func(name, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
	}
	sample := func(name string, v float64, extra ...[2]string) {
		var labels []string
		for _, l := range append(base, extra...) {
			labels = append(labels, l[0]+`="`+labelEscape(l[1])+`"`)
		}
		fmt.Fprintf(&b, "%s{%s} %g\n", name, strings.Join(labels, ","), v)
	}
	success := 0.0
	if rep.Passed {
		success = 1
	}
	family("rekindle_drill_success", "Whether the last drill passed (1) or failed (0).")
	sample("rekindle_drill_success", success)
	family("rekindle_drill_last_run_timestamp_seconds", "When the last drill finished, in seconds since the Unix epoch.")
	sample("rekindle_drill_last_run_timestamp_seconds", float64(rep.Started.Add(rep.Duration).UnixMilli())/1000)
	family("rekindle_drill_duration_seconds", "How long the last drill took, teardown included.")
	sample("rekindle_drill_duration_seconds", rep.Duration.Seconds())
	if r := rep.Recovery; r != nil {
		family("rekindle_drill_rto_seconds", "Recovery time measured by the last drill.")
		sample("rekindle_drill_rto_seconds", r.Total.Seconds())
		if r.Objective > 0 {
			family("rekindle_drill_rto_objective_seconds", "The recovery time objective the last drill was held to.")
			sample("rekindle_drill_rto_objective_seconds", r.Objective.Seconds())
		}
		met := 0.0
		if r.Met {
			met = 1
		}
		family("rekindle_drill_rto_objective_met", "Whether the last drill's recovery met its objective (1) or not (0).")
		sample("rekindle_drill_rto_objective_met", met)
		family("rekindle_drill_recovery_phase_duration_seconds", "Time each phase of the last drill's recovery took.")
		for _, ph := range r.Phases {
			sample("rekindle_drill_recovery_phase_duration_seconds", ph.Duration.Seconds(), [2]string{"phase", ph.Name})
		}
	}
	if len(rep.Phases) > 0 {
		family("rekindle_drill_phase_duration_seconds", "Time each phase of the last drill took.")
		for _, ph := range rep.Phases {
			sample("rekindle_drill_phase_duration_seconds", ph.Duration.Seconds(), [2]string{"phase", ph.Name})
		}
	}
	family("rekindle_drill_differences", "Differences from Git the last drill's verification found.")
	sample("rekindle_drill_differences", float64(len(rep.Differences)))
	return []byte(b.String())
}

func labelEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// WriteMetricsFile writes the drill's metrics to path atomically (a
// temporary file in the same directory, renamed over it), so the textfile
// collector never reads half a file.
func (rep *DrillReport) WriteMetricsFile(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write metrics %q: %w", path, err)
	}
	f, err := os.CreateTemp(dir, ".rekindle-metrics-*")
	if err != nil {
		return fmt.Errorf("write metrics %q: %w", path, err)
	}
	defer os.Remove(f.Name()) // gone after the rename; cleans up otherwise
	if _, err := f.Write(rep.Metrics()); err != nil {
		f.Close()
		return fmt.Errorf("write metrics %q: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("write metrics %q: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write metrics %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write metrics %q: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write metrics %q: %w", path, err)
	}
	return nil
}

// PushOptions configure a push to a Prometheus Pushgateway.
type PushOptions struct {
	// URL of the Pushgateway (http://host:9091); errors name its host only.
	URL string
	// Attempts and Backoff bound the retries, as for NotifyOptions.
	Attempts int
	Backoff  time.Duration
	Client   *http.Client
}

// Validate checks the options as given on a command line.
func (o PushOptions) Validate() error {
	if o.URL == "" {
		return nil
	}
	if err := checkHTTPURL(o.URL); err != nil {
		return fmt.Errorf("pushgateway URL: %w", err)
	}
	return nil
}

// PushMetrics replaces the drill's group on the Pushgateway (PUT
// /metrics/job/rekindle_drill/blueprint/<b>/env/<e>) with its metrics.
func PushMetrics(ctx context.Context, opts PushOptions, rep *DrillReport) error {
	target, err := pushURL(opts.URL, rep.Blueprint, rep.Env)
	if err != nil {
		return fmt.Errorf("pushgateway URL: %w", err)
	}
	return postWithRetry(ctx, opts.Client, http.MethodPut, target, "text/plain; version=0.0.4; charset=utf-8", rep.Metrics(), opts.Attempts, opts.Backoff)
}

// pushURL is the Pushgateway URL of the drill's group. Label values that
// are empty or hold a slash use the Pushgateway's base64 form.
func pushURL(gateway, blueprint, env string) (string, error) {
	if err := checkHTTPURL(gateway); err != nil {
		return "", err
	}
	seg := func(name, value string) string {
		if value == "" || strings.Contains(value, "/") {
			return name + "@base64/" + base64.RawURLEncoding.EncodeToString([]byte(value)) + pad(value)
		}
		return name + "/" + url.PathEscape(value)
	}
	return strings.TrimRight(gateway, "/") + "/metrics/job/" + metricsJob + "/" + seg("blueprint", blueprint) + "/" + seg("env", env), nil
}

// pad is the Pushgateway's way to say "empty" in base64 ("=").
func pad(value string) string {
	if value == "" {
		return "="
	}
	return ""
}
