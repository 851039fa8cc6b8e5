package kwok

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/test/testenv"
)

// requireBinDir finds the cluster binaries the way the provider does. Without
// them the test fails in CI (CI=true) and is skipped elsewhere, saying how to
// build them.
func requireBinDir(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: needs a kwok cluster, and -short runs only the tests that need none")
	}
	dir, err := FindBinDir("")
	testenv.Need(t, "the kwok cluster binaries (hack/install-cluster-tools.sh builds them)", err)
	return dir
}

// uniqueName is a cluster name no other test (or test run) uses.
func uniqueName(t *testing.T, prefix string) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + "-" + hex.EncodeToString(b)
}

type stageLog struct {
	mu     sync.Mutex
	stages []string
}

func (s *stageLog) progress(stage string, took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stages = append(s.stages, fmt.Sprintf("%s (%s)", stage, took.Round(time.Millisecond)))
}

func (s *stageLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.stages, ", ")
}

// newTestProvider returns a provider with its own state dir; output of kwokctl
// goes to the test log.
func newTestProvider(t *testing.T, stages *stageLog) (*provider, string) {
	t.Helper()
	requireBinDir(t)
	state := t.TempDir()
	opts := Options{StateDir: state, Log: testWriter{t}}
	if stages != nil {
		opts.Progress = stages.progress
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p.(*provider), state
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	if testing.Verbose() {
		w.t.Log(strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}

// createCluster creates a cluster that is always deleted when the test ends.
func createCluster(t *testing.T, p *provider, spec cluster.Spec) cluster.Info {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), time.Minute)
		defer cancel()
		if err := p.Delete(ctx, spec.Name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	info, err := p.Create(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func clientFor(t *testing.T, info cluster.Info) kubernetes.Interface {
	t.Helper()
	cfg, err := cluster.RESTConfig(info.Kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestLifecycleThreeNodes(t *testing.T) {
	t.Parallel()
	stages := &stageLog{}
	p, _ := newTestProvider(t, stages)
	name := uniqueName(t, "life")
	ctx := t.Context()

	start := time.Now()
	info := createCluster(t, p, cluster.Spec{Name: name, Nodes: 3})
	t.Logf("Create -> Ready for a 3-node kwok cluster: %s (stages: %s)", time.Since(start).Round(time.Millisecond), stages)

	if info.State != cluster.Running || info.Provider != "kwok" || !strings.HasPrefix(info.APIServer, "https://127.0.0.1:") {
		t.Fatalf("Create returned %+v", info)
	}
	for _, want := range []string{"start control plane", "register 3 nodes", "3 nodes Ready", "controllers running"} {
		if !strings.Contains(stages.String(), want) {
			t.Errorf("progress stages %q lack %q", stages, want)
		}
	}
	wantKubeconfig := filepath.Join(p.opts.StateDir, "clusters", "kwok", name, "kubeconfig")
	if info.Kubeconfig != wantKubeconfig {
		t.Errorf("kubeconfig %s, want %s", info.Kubeconfig, wantKubeconfig)
	}
	if fi, err := os.Stat(info.Kubeconfig); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig: %v, mode %v, want 0600", err, fi.Mode().Perm())
	}

	cs := clientFor(t, info)
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 3 {
		t.Fatalf("nodes: %v, %d of 3", err, len(nodes.Items))
	}

	// A Deployment becomes Available: pods are scheduled onto the simulated
	// nodes and the kwok controller marks them Running and Ready.
	start = time.Now()
	deployAndWait(t, cs, "web", 3)
	t.Logf("Deployment with 3 replicas Available in %s", time.Since(start).Round(time.Millisecond))

	// One controller-manager and one scheduler: they run without electing
	// a leader (electing cost each start a 2 s retry).
	for _, lease := range []string{"kube-controller-manager", "kube-scheduler"} {
		if _, err := cs.CoordinationV1().Leases("kube-system").Get(ctx, lease, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("Lease kube-system/%s: %v, want none (leader election off)", lease, err)
		}
	}

	// A big Service range: an address beyond the first /24 is accepted.
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "wide", Namespace: "default"},
		Spec:       corev1.ServiceSpec{ClusterIP: "10.96.200.7", Ports: []corev1.ServicePort{{Port: 80}}},
	}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Errorf("Service in 10.96.0.0/16 beyond the first /24: %v", err)
	}

	got, err := p.Get(ctx, name)
	if err != nil || got.State != cluster.Running || got.APIServer != info.APIServer {
		t.Fatalf("Get = %+v, %v; want Running at %s", got, err, info.APIServer)
	}
	list, err := p.List(ctx)
	if err != nil || len(list) != 1 || list[0].Name != name || list[0].State != cluster.Running {
		t.Fatalf("List = %+v, %v", list, err)
	}

	ps := p.paths(name)
	pids := readPids(ps.clusterDir)
	if len(pids) != len(components) {
		t.Fatalf("kwokctl recorded pids %v, want one per component %v", pids, components)
	}
	if err := p.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
	if got, err := p.Get(ctx, name); err != nil || got.State != cluster.Missing {
		t.Fatalf("after Delete, Get = %+v, %v; want Missing", got, err)
	}
	for c, pid := range pids {
		// pid_max may be as low as 32768: on a busy machine the pid can
		// belong to a new process already, so it must still be the cluster's.
		if alive(pid) && cmdlineMentions(pid, ps.dir) {
			t.Errorf("after Delete, %s (pid %d) still runs", c, pid)
		}
	}
	if left := processesUnder(ps.dir); len(left) > 0 {
		t.Errorf("after Delete, processes %v still run from %s", left, ps.dir)
	}
	if _, err := os.Stat(ps.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Delete, %s still exists (%v)", ps.dir, err)
	}
	if err := p.Delete(ctx, name); err != nil {
		t.Errorf("deleting a missing cluster: %v", err)
	}
}

func deployAndWait(t *testing.T, cs kubernetes.Interface, name string, replicas int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.k8s.io/pause:3.10"}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		got, err := cs.AppsV1().Deployments("default").Get(ctx, name, metav1.GetOptions{})
		if err == nil && got.Status.AvailableReplicas == replicas && deploymentAvailable(got) {
			return
		}
		select {
		case <-ctx.Done():
			pods, _ := cs.CoreV1().Pods("default").List(context.WithoutCancel(ctx), metav1.ListOptions{})
			var phases []string
			for _, p := range pods.Items {
				phases = append(phases, fmt.Sprintf("Pod/default/%s on %q: %s", p.Name, p.Spec.NodeName, p.Status.Phase))
			}
			t.Fatalf("Deployment/default/%s not Available: %v %+v; pods: %s", name, err, got.Status, strings.Join(phases, ", "))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func deploymentAvailable(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func TestTwoClustersSideBySide(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvider(t, nil)
	names := []string{uniqueName(t, "a"), uniqueName(t, "b")}

	// Created at the same time: kwokctl must not hand both the same ports.
	infos := make([]cluster.Info, 2)
	var wg sync.WaitGroup
	for i, n := range names {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), time.Minute)
			defer cancel()
			if err := p.Delete(ctx, n); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
		wg.Go(func() {
			info, err := p.Create(t.Context(), cluster.Spec{Name: n})
			if err != nil {
				t.Error(err)
			}
			infos[i] = info
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if infos[0].APIServer == infos[1].APIServer {
		t.Fatalf("both clusters at %s", infos[0].APIServer)
	}
	list, err := p.List(t.Context())
	if err != nil || len(list) != 2 || list[0].State != cluster.Running || list[1].State != cluster.Running {
		t.Fatalf("List = %+v, %v; want two Running clusters", list, err)
	}

	// Each kubeconfig reaches its own cluster.
	cs := clientFor(t, infos[0])
	if _, err := cs.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "only-in-a"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := clientFor(t, infos[1]).CoreV1().Namespaces().Get(t.Context(), "only-in-a", metav1.GetOptions{}); err == nil {
		t.Fatal("a Namespace created in one cluster shows in the other")
	}

	if err := p.Delete(t.Context(), names[0]); err != nil {
		t.Fatal(err)
	}
	if got, err := p.Get(t.Context(), names[1]); err != nil || got.State != cluster.Running {
		t.Fatalf("after deleting %s, Get(%s) = %+v, %v; want Running", names[0], names[1], got, err)
	}
}

func TestCreateTwiceIsOneCluster(t *testing.T) {
	t.Parallel()
	stages := &stageLog{}
	p, _ := newTestProvider(t, stages)
	name := uniqueName(t, "twice")
	first := createCluster(t, p, cluster.Spec{Name: name, Nodes: 2})
	pids := readPids(p.paths(name).clusterDir)

	stages.stages = nil
	second, err := p.Create(t.Context(), cluster.Spec{Name: name, Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	if second.APIServer != first.APIServer || second.State != cluster.Running {
		t.Fatalf("second Create = %+v, first %+v", second, first)
	}
	if again := readPids(p.paths(name).clusterDir); fmt.Sprint(again) != fmt.Sprint(pids) {
		t.Fatalf("second Create started new processes: %v, before %v", again, pids)
	}
	if !strings.Contains(stages.String(), "already running") {
		t.Errorf("second Create stages %q do not say the cluster already runs", stages)
	}
	nodes, err := clientFor(t, second).CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 2 {
		t.Fatalf("nodes after second Create: %v, %d; want 2", err, len(nodes.Items))
	}
}

func TestKilledAPIServerIsUnhealthy(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvider(t, nil)
	name := uniqueName(t, "kill")
	info := createCluster(t, p, cluster.Spec{Name: name})

	pid := readPids(p.paths(name).clusterDir)["kube-apiserver"]
	if pid == 0 {
		t.Fatal("no kube-apiserver pid recorded")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var got cluster.Info
	for time.Now().Before(deadline) {
		start := time.Now()
		var err error
		got, err = p.Get(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 7*time.Second {
			t.Fatalf("Get took %s", took)
		}
		if got.State == cluster.Unhealthy {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got.State != cluster.Unhealthy || !(strings.Contains(got.Reason, "kube-apiserver") || strings.Contains(got.Reason, "API server")) {
		t.Fatalf("Get after killing kube-apiserver = %+v; want Unhealthy naming the API server", got)
	}
	t.Logf("Get after kill: %s: %s", got.State, got.Reason)

	// Create brings the cluster back (kwokctl restarts what is missing), at
	// the same address.
	again, err := p.Create(t.Context(), cluster.Spec{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if again.State != cluster.Running || again.APIServer != info.APIServer {
		t.Fatalf("Create after kill = %+v; want Running at %s", again, info.APIServer)
	}
}

// A component that exited while the API server still answers (as
// kube-controller-manager does when the API server is slow to become
// healthy) is started again by Create, or Deployments would never get Pods.
func TestCreateRestartsDeadController(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvider(t, nil)
	name := uniqueName(t, "kcm")
	info := createCluster(t, p, cluster.Spec{Name: name})
	dir := p.paths(name).clusterDir
	pid := readPids(dir)["kube-controller-manager"]
	if pid == 0 {
		t.Fatal("no kube-controller-manager pid recorded")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); alive(pid) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	again, err := p.Create(t.Context(), cluster.Spec{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if dead := deadComponentNames(dir); len(dead) > 0 || again.APIServer != info.APIServer {
		t.Fatalf("after Create: %v not running, API server %s (was %s); want every component running at the same address", dead, again.APIServer, info.APIServer)
	}
	if readPids(dir)["kube-controller-manager"] == pid {
		t.Fatal("kube-controller-manager was not started again")
	}
}

// A Create stopped right after kwokctl saved its configuration (before its
// install saved the components, as when rekindle is killed) leaves a
// cluster kwokctl cannot continue; the next Create makes it afresh.
func TestCreateAfterInterruptedCreate(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvider(t, nil)
	name := uniqueName(t, "cut")
	ps := p.paths(name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), time.Minute)
		defer cancel()
		_ = p.Delete(ctx, name)
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := p.Create(ctx, cluster.Spec{Name: name})
		done <- err
	}()
	// kwokctl's install makes pki/ after it saved the configuration.
	for _, err := os.Stat(filepath.Join(ps.clusterDir, "pki")); err != nil; _, err = os.Stat(filepath.Join(ps.clusterDir, "pki")) {
		select {
		case err := <-done:
			t.Fatalf("Create ended (%v) before kwokctl began its install", err)
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	<-done
	entries, _ := os.ReadDir(ps.clusterDir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	t.Logf("left by the interrupted create: %v", left)
	logs, _ := filepath.Glob(filepath.Join(ps.clusterDir, "logs", "*.log"))
	if len(logs) > 0 || len(readPids(ps.clusterDir)) > 0 {
		t.Fatalf("the interruption came after components started (%d logs, pids %v): not the case under test", len(logs), readPids(ps.clusterDir))
	}
	cctx, ccancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer ccancel()
	again, err := p.Create(cctx, cluster.Spec{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if again.State != cluster.Running || len(deadComponentNames(ps.clusterDir)) > 0 {
		t.Fatalf("Create after an interrupted create = %+v, %v not running", again, deadComponentNames(ps.clusterDir))
	}
}

func TestFailingBinaryKeepsOutput(t *testing.T) {
	t.Parallel()
	real := requireBinDir(t)
	bin := t.TempDir()
	for _, b := range Binaries {
		if err := os.Symlink(filepath.Join(real, b), filepath.Join(bin, b)); err != nil {
			t.Fatal(err)
		}
	}
	// An etcd that cannot run: kwokctl fails and says why.
	if err := os.Remove(filepath.Join(bin, "etcd")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "etcd"), []byte("#!/bin/sh\necho 'etcd: cannot start: disk on fire' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{StateDir: t.TempDir(), BinDir: bin, WaitTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	name := uniqueName(t, "fail")
	t.Cleanup(func() {
		if err := p.Delete(context.WithoutCancel(t.Context()), name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err = p.Create(ctx, cluster.Spec{Name: name})
	if err == nil {
		t.Fatal("Create with a broken etcd succeeded")
	}
	msg := err.Error()
	t.Logf("error:\n%s", msg)
	for _, want := range []string{name, "kwokctl.log", "disk on fire"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q", want)
		}
	}
}

func TestMissingCluster(t *testing.T) {
	p, err := New(Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if got, err := p.Get(ctx, "nothing-here"); err != nil || got.State != cluster.Missing {
		t.Errorf("Get = %+v, %v; want Missing", got, err)
	}
	if err := p.Delete(ctx, "nothing-here"); err != nil {
		t.Errorf("Delete of a missing cluster: %v", err)
	}
	if list, err := p.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("List = %v, %v; want none", list, err)
	}
	for _, bad := range []string{"", "Upper", "a/b", "../x", strings.Repeat("a", 64)} {
		if _, err := p.Create(ctx, cluster.Spec{Name: bad}); err == nil {
			t.Errorf("Create(%q) accepted the name", bad)
		}
	}
}
