package capi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/agent"
	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/providers/cluster/kwok"
	"github.com/rekindle-dev/rekindle/test/kwoktest"
)

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}

// requireKwok skips (fails in CI) without the kwok cluster binaries.
func requireKwok(t *testing.T) {
	t.Helper()
	kwoktest.BinDir(t)
}

func uniqueName(prefix string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// kwokCluster is a real kwok cluster: the management cluster or the one
// playing the workload cluster.
type kwokCluster struct {
	name string
	p    cluster.Provider
	info cluster.Info
}

func newKwok(ctx context.Context, t *testing.T, state, name string, nodes int) *kwokCluster {
	t.Helper()
	p, err := kwok.New(kwok.Options{StateDir: state, BinDir: os.Getenv("REKINDLE_KWOK_BIN_DIR")})
	if err != nil {
		t.Fatal(err)
	}
	k := &kwokCluster{name: name, p: p}
	k.create(ctx, t, nodes)
	t.Cleanup(func() { _ = p.Delete(context.WithoutCancel(ctx), name) })
	return k
}

func (k *kwokCluster) create(ctx context.Context, t *testing.T, nodes int) {
	t.Helper()
	start := time.Now()
	info, err := k.p.Create(ctx, cluster.Spec{Name: k.name, Nodes: nodes})
	if err != nil {
		t.Fatalf("create kwok cluster %s: %v", k.name, err)
	}
	t.Logf("kwok cluster %s (%d nodes) ready in %s at %s", k.name, nodes, time.Since(start).Round(time.Millisecond), info.APIServer)
	k.info = info
}

// moduleDir is the cluster-api Go module in the module cache.
func moduleDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/cluster-api").Output()
	if err != nil {
		t.Fatalf("find the cluster-api module: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// coreCRDFiles are the Cluster API core CRDs shipped in the module.
func coreCRDFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(moduleDir(t), "core", "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs under the cluster-api module: %v", err)
	}
	return files
}

// createAll creates the objects of files (AlreadyExists is fine), with
// extra labels, and waits for CRDs among them to be Established.
func createAll(ctx context.Context, t *testing.T, c client.Client, labels map[string]string, files ...string) {
	t.Helper()
	var crds []string
	for _, f := range files {
		objs, err := decodeFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			l := o.GetLabels()
			if l == nil {
				l = map[string]string{}
			}
			for k, v := range labels {
				l[k] = v
			}
			o.SetLabels(l)
			if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatalf("create %s/%s from %s: %v", o.GetKind(), o.GetName(), f, err)
			}
			if o.GetKind() == "CustomResourceDefinition" {
				crds = append(crds, o.GetName())
			}
		}
	}
	for _, name := range crds {
		waitEstablished(ctx, t, c, name)
	}
}

func waitEstablished(ctx context.Context, t *testing.T, c client.Client, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("apiextensions.k8s.io/v1")
		u.SetKind("CustomResourceDefinition")
		if err := c.Get(ctx, types.NamespacedName{Name: name}, u); err == nil {
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, x := range conds {
				if m, ok := x.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("CRD %s not Established after 30s", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type stages struct {
	mu   sync.Mutex
	list []string
}

func (s *stages) progress(stage string, took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, fmt.Sprintf("%s (%s)", stage, took.Round(time.Millisecond)))
}

func (s *stages) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.list, "\n  ")
}

func (s *stages) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = nil
}

type testLog struct{ t *testing.T }

func (w testLog) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// localRepository copies testdata/repository and appends the Cluster API
// CRDs from the module to its core components, so clusterctl init installs
// real CRDs from a local repository, without network.
func localRepository(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir("testdata/repository", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/repository", path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	core := filepath.Join(dst, "cluster-api", "v1.14.2", "core-components.yaml")
	data, err := os.ReadFile(core)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range coreCRDFiles(t) {
		crd, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, []byte("\n---\n")...)
		data = append(data, crd...)
	}
	if err := os.WriteFile(core, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestWorkloadClusterLifecycle drives the provider against a real kwok
// management cluster: clusterctl init from a local repository, apply, wait
// (with the test's stand-in controller playing Cluster API and the
// infrastructure provider), the kubeconfig, remediation after the workload
// cluster is lost, a clusterctl move backup, a stuck wait and deletion.
func TestWorkloadClusterLifecycle(t *testing.T) {
	requireKwok(t)
	if testing.Short() {
		t.Skip("skipping: creates kwok clusters")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	kwokState, err := os.MkdirTemp("", "rk-capi-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(kwokState) })

	mgmt := newKwok(ctx, t, kwokState, uniqueName("mgmt"), 1)
	work := newKwok(ctx, t, kwokState, uniqueName("work"), 2)

	state := t.TempDir()
	var st stages
	opts := Options{
		StateDir:             state,
		ManagementKubeconfig: mgmt.info.Kubeconfig,
		ManagementName:       mgmt.name,
		Manifests:            mustAbs(t, "testdata/manifests/work"),
		Providers:            Providers{Core: "cluster-api:v1.14.2"},
		Repository:           localRepository(t),
		Progress:             st.progress,
		Log:                  testLog{t},
		StallTimeout:         2 * time.Minute,
		PollInterval:         100 * time.Millisecond,
	}
	prov, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	p := prov.(*provider)
	m, err := p.connect(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// The stand-in providers' kinds, labelled as clusterctl labels what it installs.
	createAll(ctx, t, m.client, map[string]string{"clusterctl.cluster.x-k8s.io": "", "cluster.x-k8s.io/provider": "infrastructure-kwok"}, "testdata/crds/test-providers.yaml")

	kubeconfig := func(k *kwokCluster) []byte {
		data, err := os.ReadFile(k.info.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	ctrl := &standIn{c: m.client, ns: DefaultNamespace, stuck: map[string]bool{}, finalizerDelay: 2 * time.Second,
		kubeconfig: map[string][]byte{}, deleting: map[string]time.Time{}}
	ctrl.setKubeconfig("work", kubeconfig(work))
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	go ctrl.run(cctx, t)

	if info, err := p.Get(ctx, "work"); err != nil || info.State != cluster.Missing {
		t.Fatalf("Get before Create = %+v, %v; want Missing", info, err)
	}

	var firstUID types.UID
	t.Run("create inits providers from a local repository, applies and waits", func(t *testing.T) {
		start := time.Now()
		info, err := p.Create(ctx, cluster.Spec{Name: "work"})
		took := time.Since(start)
		t.Logf("Create took %s; stages:\n  %s", took.Round(time.Millisecond), st.String())
		if err != nil {
			t.Fatal(err)
		}
		if info.State != cluster.Running || info.APIServer != work.info.APIServer {
			t.Fatalf("info = %+v; want Running at %s", info, work.info.APIServer)
		}
		if want := KubeconfigPath(state, "work"); info.Kubeconfig != want {
			t.Fatalf("kubeconfig %q, want %q", info.Kubeconfig, want)
		}
		fi, err := os.Stat(info.Kubeconfig)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("kubeconfig file: %v, mode %v; want 0600", err, fi.Mode().Perm())
		}
		for _, want := range []string{"clusterctl init on", "cluster-api:v1.14.2", "applied 5 Cluster API object(s)", "infrastructure provisioned", "control plane initialized",
			"control plane 0/1 ready, workers 0/1 ready", "control plane 1/1 ready, workers 1/1 ready", "kubeconfig from Secret default/work-kubeconfig", "2 nodes Ready"} {
			if !strings.Contains(st.String(), want) {
				t.Errorf("stages lack %q:\n  %s", want, st.String())
			}
		}
		var provs unstructured.UnstructuredList
		provs.SetAPIVersion("clusterctl.cluster.x-k8s.io/v1alpha3")
		provs.SetKind("ProviderList")
		if err := m.client.List(ctx, &provs); err != nil || len(provs.Items) != 1 {
			t.Fatalf("clusterctl inventory: %v, %d providers; want cluster-api", err, len(provs.Items))
		}
		var c clusterv1.Cluster
		if err := m.client.Get(ctx, types.NamespacedName{Namespace: DefaultNamespace, Name: "work"}, &c); err != nil {
			t.Fatal(err)
		}
		firstUID = c.UID
		if got, err := p.Get(ctx, "work"); err != nil || got.State != cluster.Running {
			t.Fatalf("Get = %+v, %v; want Running", got, err)
		}
		list, err := p.List(ctx)
		if err != nil || len(list) != 1 || list[0].Name != "work" {
			t.Fatalf("List = %+v, %v", list, err)
		}
	})
	if t.Failed() {
		return
	}
	t.Run("the agent replays workloads on the workload cluster through the fetched kubeconfig", func(t *testing.T) {
		cfg, err := cluster.RESTConfig(KubeconfigPath(state, "work"), "")
		if err != nil {
			t.Fatal(err)
		}
		ap, err := agent.NewApplier(cfg, agent.ApplyOptions{WaitTimeout: 2 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		rc := &blueprints.RenderedCluster{Environment: "dev", Cluster: "work", Commit: "c0ffee", Workloads: []blueprints.RenderedWorkload{{
			Name: "apps", Source: blueprints.SourcePlain, Objects: []*unstructured.Unstructured{
				{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "apps"}}},
				{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web", "namespace": "apps"},
					"spec": map[string]any{"replicas": int64(2), "selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
						"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
							"spec": map[string]any{"containers": []any{map[string]any{"name": "web", "image": "registry.example.com/web:1"}}}}}}},
			}}}}
		res, err := ap.Sync(ctx, rc, agent.SyncOptions{})
		if err != nil || !res.Ready() {
			t.Fatalf("replay on the workload cluster: %v (%d/%d healthy)", err, res.Healthy, res.Desired)
		}
		if res.Healthy != 2 {
			t.Errorf("healthy = %d, want 2 (Namespace and an Available Deployment)", res.Healthy)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("backup with clusterctl move to a directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "backup")
		start := time.Now()
		if err := Backup(ctx, BackupOptions{Kubeconfig: mgmt.info.Kubeconfig, Dir: dir, Log: testLog{t}}); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Logf("backup took %s: %s", time.Since(start).Round(time.Millisecond), strings.Join(names, ", "))
		for _, want := range []string{"Cluster_default_work.yaml", "Secret_default_work-kubeconfig.yaml", "KwokCluster_default_work.yaml"} {
			if !strings.Contains(strings.Join(names, " "), want) {
				t.Errorf("backup lacks %s", want)
			}
		}
		var c clusterv1.Cluster
		if err := m.client.Get(ctx, types.NamespacedName{Namespace: DefaultNamespace, Name: "work"}, &c); err != nil || c.Spec.Paused != nil && *c.Spec.Paused {
			t.Errorf("Cluster after backup: %v, paused %v; want resumed", err, c.Spec.Paused)
		}
	})

	t.Run("lost workload cluster: Create waits for remediation, no second Cluster", func(t *testing.T) {
		st.reset()
		if err := work.p.Delete(ctx, work.name); err != nil {
			t.Fatal(err)
		}
		info, err := p.Get(ctx, "work")
		if err != nil || info.State != cluster.Unhealthy {
			t.Fatalf("Get after the workload cluster is gone = %+v, %v; want Unhealthy", info, err)
		}
		t.Logf("Get: %s: %s", info.State, info.Reason)
		type result struct {
			info cluster.Info
			err  error
		}
		done := make(chan result, 1)
		start := time.Now()
		go func() {
			info, err := p.Create(ctx, cluster.Spec{Name: "work"})
			done <- result{info, err}
		}()
		select {
		case r := <-done:
			t.Fatalf("Create returned before remediation: %+v, %v", r.info, r.err)
		case <-time.After(3 * time.Second):
		}
		// "Remediation": new infrastructure, new kubeconfig in the Secret.
		work.create(ctx, t, 2)
		ctrl.setKubeconfig("work", kubeconfig(work))
		r := <-done
		t.Logf("Create returned %s after the loss (remediation included); stages:\n  %s", time.Since(start).Round(time.Millisecond), st.String())
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.info.State != cluster.Running || r.info.APIServer != work.info.APIServer {
			t.Fatalf("info = %+v; want Running at the remediated %s", r.info, work.info.APIServer)
		}
		for _, want := range []string{"providers already installed", "exists: re-applied 5 object(s)"} {
			if !strings.Contains(st.String(), want) {
				t.Errorf("stages lack %q", want)
			}
		}
		var list clusterv1.ClusterList
		if err := m.client.List(ctx, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 1 || list.Items[0].UID != firstUID {
			t.Fatalf("Clusters after remediation: %d (uid %v); want the one Cluster %v", len(list.Items), list.Items[0].UID, firstUID)
		}
	})

	t.Run("stuck wait names the object and its condition", func(t *testing.T) {
		ctrl.stuck["stuck"] = true
		o := opts
		o.Manifests, o.StallTimeout, o.Progress = mustAbs(t, "testdata/manifests/stuck"), 3*time.Second, nil
		sp, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = sp.Create(ctx, cluster.Spec{Name: "stuck"})
		t.Logf("stuck Create failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
		if !errors.Is(err, ErrStuck) {
			t.Fatalf("err = %v; want ErrStuck", err)
		}
		for _, want := range []string{"Cluster/default/stuck", "InfrastructureReady=False (WaitingForLoadBalancer): load balancer 10.0.0.1 has no healthy backend"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q", want)
			}
		}
		if err := sp.Delete(ctx, "stuck"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("manifests without the named Cluster are refused", func(t *testing.T) {
		_, err := p.Create(ctx, cluster.Spec{Name: "other"})
		if err == nil || !strings.Contains(err.Error(), "hold no Cluster default/other (found: default/work)") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("delete waits for the finalizer", func(t *testing.T) {
		start := time.Now()
		if err := p.Delete(ctx, "work"); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		t.Logf("Delete took %s", took.Round(time.Millisecond))
		if took < ctrl.finalizerDelay {
			t.Errorf("Delete returned after %s, before the finalizer went (%s)", took, ctrl.finalizerDelay)
		}
		var c clusterv1.Cluster
		if err := m.client.Get(ctx, types.NamespacedName{Namespace: DefaultNamespace, Name: "work"}, &c); !apierrors.IsNotFound(err) {
			t.Fatalf("Cluster after Delete: %v", err)
		}
		if info, err := p.Get(ctx, "work"); err != nil || info.State != cluster.Missing {
			t.Fatalf("Get after Delete = %+v, %v; want Missing", info, err)
		}
		if _, err := os.Stat(KubeconfigPath(state, "work")); !os.IsNotExist(err) {
			t.Fatalf("kubeconfig left behind: %v", err)
		}
		if err := p.Delete(ctx, "work"); err != nil {
			t.Fatalf("second Delete: %v", err)
		}
	})
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
