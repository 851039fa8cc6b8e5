package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// run is one measurement of one method on one blueprint size, on a fresh
// cluster.
type run struct {
	// Healthy is the seconds from the start until every Deployment was
	// Available: the replay time that ratios compare.
	Healthy float64 `json:"healthySeconds"`
	// Present is the seconds from the start until a watch had seen every
	// object of the blueprint in the cluster (the apply phase), and
	// HealthyPhase the rest: Healthy - Present.
	Present      float64 `json:"presentSeconds,omitempty"`
	HealthyPhase float64 `json:"healthyPhaseSeconds,omitempty"`
	// PeakRSS of the measured process in MiB, and the CPU-seconds it
	// spent, user and system (rekindle only).
	PeakRSSMiB float64 `json:"peakRSSMiB,omitempty"`
	CPU        float64 `json:"cpuSeconds,omitempty"`
	// MachineCPU is what every core of the machine spent from the start
	// until the method ended (the cluster, the client and the benchmark's
	// own watch): on two cores the replay is bound by it.
	MachineCPU float64 `json:"machineCPUSeconds,omitempty"`
	// Capped: the method was stopped at its time limit; Healthy is a lower
	// bound and Note says how far it got.
	Capped bool   `json:"capped,omitempty"`
	Note   string `json:"note,omitempty"`
	Error  string `json:"error,omitempty"`
	// Load is /proc/loadavg when the run started.
	Load string `json:"load"`
	// started is when the method's clock started.
	started time.Time
}

// usage is what a child process cost: its peak RSS in MiB and its user and
// system CPU-seconds.
type usage struct{ rssMiB, cpu float64 }

// child runs a program, its output going to log, and returns its usage.
func child(ctx context.Context, log string, name string, args ...string) (usage, error) {
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return usage{}, err
	}
	defer f.Close()
	fmt.Fprintf(f, "--- %s %s %s\n", time.Now().Format("15:04:05.000"), name, strings.Join(args, " "))
	defer func() { fmt.Fprintf(f, "--- %s exited\n", time.Now().Format("15:04:05.000")) }()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	var u usage
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			u.rssMiB = float64(ru.Maxrss) / 1024 // Linux: KiB
		}
		u.cpu = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	}
	if err != nil {
		return u, fmt.Errorf("%s %s: %w (output in %s)\n%s", filepath.Base(name), args[0], err, log, lastLines(log, 15))
	}
	return u, nil
}

func lastLines(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// runRekindle is method (a): the real `rekindle agent --once` binary, which
// loads and renders the blueprint, applies it and returns once every object
// is healthy.
func runRekindle(ctx context.Context, bin, blueprint string, c *kwokCluster, logDir string, profile bool) (run, error) {
	state, err := os.MkdirTemp(logDir, "agent-state-")
	if err != nil {
		return run{}, err
	}
	defer os.RemoveAll(state)
	args := []string{"agent", "--once",
		"--blueprint", blueprint, "--env", benchEnv, "--cluster", benchCluster,
		"--kubeconfig", c.Kubeconfig, "--state-dir", state, "-v", "2"}
	if profile {
		args = append(args, "--profile", "cpu", "--profile-output", filepath.Join(logDir, "rekindle-agent.pprof"))
	}
	start := time.Now()
	u, err := child(ctx, filepath.Join(logDir, "rekindle-agent.log"), bin, args...)
	return run{started: start, Healthy: time.Since(start).Seconds(), PeakRSSMiB: u.rssMiB, CPU: u.cpu}, err
}

// runKubectl is method (b), what a user without rekindle does: apply the
// CRDs, wait until they are Established, apply everything else (Namespaces
// first in the file), and wait until every Deployment is Available.
//
// kubectl is the slowest method by far; to keep the benchmark within its
// time budget it is stopped after limit, and then reports the time so far as
// a lower bound (Capped) with how far it got: a ratio against it can only
// flatter kubectl.
func runKubectl(ctx context.Context, crds, objects string, c *kwokCluster, s shape, logDir string, limit time.Duration) (run, error) {
	log := filepath.Join(logDir, "kubectl.log")
	kctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	k := func(args ...string) error {
		_, err := child(kctx, log, "kubectl", append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
		return err
	}
	sel := partOfLabel + "=" + partOfValue
	var r run
	applied := false
	start := time.Now()
	err := k("apply", "--server-side", "-f", crds)
	if err == nil {
		err = k("wait", "--for=condition=Established", "crd", "-l", sel, "--timeout=5m")
	}
	if err == nil {
		err = k("apply", "--server-side", "-f", objects)
	}
	if err == nil {
		applied = true
		err = k("wait", "--for=condition=Available", "deployments", "-A", "-l", sel, "--timeout=10m")
	}
	r.started, r.Healthy = start, time.Since(start).Seconds()
	if err != nil && ctx.Err() == nil && errors.Is(kctx.Err(), context.DeadlineExceeded) {
		r.Capped = true
		r.Note = fmt.Sprintf("stopped after %s: %s", limit, kubectlProgress(ctx, c, s, applied))
		return r, nil
	}
	return r, err
}

// kubectlProgress says how far a capped kubectl run got.
func kubectlProgress(ctx context.Context, c *kwokCluster, s shape, applied bool) string {
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err.Error()
	}
	n, err := countAvailable(ctx, cs)
	if err != nil {
		return err.Error()
	}
	if applied {
		return fmt.Sprintf("apply done, %d of %d Deployments Available, kubectl wait still going", n, s.Deployments)
	}
	return fmt.Sprintf("apply not done, %d of %d Deployments Available", n, s.Deployments)
}

// writeManifests writes the rendered objects for kubectl: the CRDs in one
// file and everything else in another, in render order (Namespaces first).
func writeManifests(dir string, objs []*unstructured.Unstructured) (crds, rest string, err error) {
	var a, b bytes.Buffer
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			return "", "", err
		}
		w := &b
		if o.GetKind() == "CustomResourceDefinition" {
			w = &a
		}
		w.WriteString("---\n")
		w.Write(data)
	}
	crds, rest = filepath.Join(dir, "crds.yaml"), filepath.Join(dir, "objects.yaml")
	if err := os.WriteFile(crds, a.Bytes(), 0o644); err != nil {
		return "", "", err
	}
	return crds, rest, os.WriteFile(rest, b.Bytes(), 0o644)
}
