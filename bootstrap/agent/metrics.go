package agent

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the agent's Prometheus metrics, fed by Observe after each
// pass. Every series carries the label cluster.
type Metrics struct {
	Registry *prometheus.Registry

	passDuration   *prometheus.HistogramVec
	passes         *prometheus.CounterVec
	applied        *prometheus.GaugeVec
	healthy        *prometheus.GaugeVec
	failed         *prometheus.GaugeVec
	pruned         *prometheus.CounterVec
	drift          *prometheus.CounterVec
	ready          prometheus.Gauge
	lastCommit     *prometheus.GaugeVec
	lastAppliedAt  prometheus.Gauge
	lastPassAt     prometheus.Gauge
	mu             sync.Mutex
	commit         string
	workloadsShown map[string]bool
}

// NewMetrics registers the agent's metrics (and Go's and the process's) in
// a new registry.
func NewMetrics(cluster string) *Metrics {
	labels := prometheus.Labels{"cluster": cluster}
	m := &Metrics{Registry: prometheus.NewRegistry(), workloadsShown: map[string]bool{}}
	m.passDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "rekindle_agent_pass_duration_seconds", Help: "Duration of sync passes (render, apply, wait for health, prune), by result: success or error (the pass itself failed: Git, render, API server).",
		ConstLabels: labels, Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
	}, []string{"result"})
	m.passes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rekindle_agent_passes_total", Help: "Sync passes, by result: success or error.", ConstLabels: labels,
	}, []string{"result"})
	m.applied = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rekindle_agent_workload_objects_applied", Help: "Objects of the workload that matched Git after the last pass.", ConstLabels: labels,
	}, []string{"workload"})
	m.healthy = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rekindle_agent_workload_objects_healthy", Help: "Objects of the workload that were healthy (kstatus Current) after the last pass.", ConstLabels: labels,
	}, []string{"workload"})
	m.failed = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rekindle_agent_workload_objects_failed", Help: "Objects (or the whole workload, counted once) that failed to apply or become healthy in the last pass.", ConstLabels: labels,
	}, []string{"workload"})
	m.pruned = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rekindle_agent_objects_pruned_total", Help: "Objects deleted because they left Git, by kind.", ConstLabels: labels,
	}, []string{"kind"})
	m.drift = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rekindle_agent_drift_corrections_total", Help: "Objects edited outside Git whose managed fields the agent reverted, by kind.", ConstLabels: labels,
	}, []string{"kind"})
	m.ready = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rekindle_agent_ready", Help: "1 when the last pass left every rendered object applied and healthy, else 0.", ConstLabels: labels,
	})
	m.lastCommit = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rekindle_agent_last_applied_commit_info", Help: "1 for the Git commit the last fully applied pass synced.", ConstLabels: labels,
	}, []string{"commit"})
	m.lastAppliedAt = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rekindle_agent_last_applied_timestamp_seconds", Help: "Unix time at which the last fully applied pass ended.", ConstLabels: labels,
	})
	m.lastPassAt = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rekindle_agent_last_pass_timestamp_seconds", Help: "Unix time at which the last pass ended, whatever its result.", ConstLabels: labels,
	})
	m.Registry.MustRegister(m.passDuration, m.passes, m.applied, m.healthy, m.failed, m.pruned, m.drift,
		m.ready, m.lastCommit, m.lastAppliedAt, m.lastPassAt,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{"success", "error"} {
		m.passes.WithLabelValues(r)
	}
	return m
}

// Observe records one pass: its Result (nil when the pass failed as a
// whole), its error, and how long it took.
func (m *Metrics) Observe(res *Result, err error, took time.Duration, end time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastPassAt.Set(float64(end.UnixNano()) / 1e9)
	if err != nil || res == nil {
		m.passDuration.WithLabelValues("error").Observe(took.Seconds())
		m.passes.WithLabelValues("error").Inc()
		m.ready.Set(0)
		return
	}
	m.passDuration.WithLabelValues("success").Observe(took.Seconds())
	m.passes.WithLabelValues("success").Inc()
	failed := map[string]int{}
	for _, f := range res.Failed {
		failed[f.Workload]++
	}
	seen := map[string]bool{}
	for _, w := range res.Workloads {
		seen[w.Name] = true
		m.applied.WithLabelValues(w.Name).Set(float64(w.Applied))
		m.healthy.WithLabelValues(w.Name).Set(float64(w.Healthy))
		m.failed.WithLabelValues(w.Name).Set(float64(failed[w.Name]))
	}
	// A failure outside any workload (CRDs and Namespaces, applied first).
	if n := failed[""]; n > 0 || m.workloadsShown[""] {
		seen[""] = true
		m.failed.WithLabelValues("").Set(float64(n))
	}
	for w := range m.workloadsShown {
		if !seen[w] {
			m.applied.DeleteLabelValues(w)
			m.healthy.DeleteLabelValues(w)
			m.failed.DeleteLabelValues(w)
		}
	}
	m.workloadsShown = seen
	for _, p := range res.Pruned {
		m.pruned.WithLabelValues(p.Kind).Inc()
	}
	for _, d := range res.Drifted {
		m.drift.WithLabelValues(d.Kind).Inc()
	}
	if !res.Ready() {
		m.ready.Set(0)
		return
	}
	m.ready.Set(1)
	if m.commit != res.Commit {
		if m.commit != "" {
			m.lastCommit.DeleteLabelValues(m.commit)
		}
		m.commit = res.Commit
	}
	m.lastCommit.WithLabelValues(res.Commit).Set(1)
	m.lastAppliedAt.Set(float64(end.UnixNano()) / 1e9)
}
