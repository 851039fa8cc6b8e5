package kind

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/test/testenv"
)

// requireKind skips the test (fails it under CI=true, where .ci/run makes
// both) where kind cannot start a cluster: no engine that runs privileged
// containers, or no node image present or pullable.
func requireKind(t *testing.T) {
	t.Helper()
	testenv.Need(t, "a container engine that runs kind's privileged nodes (hack/container-engine.sh) and a node image (hack/kind-node-image.sh builds "+OfflineNodeImage+")", Available(t.Context(), ""))
}

func TestLifecycle(t *testing.T) {
	requireKind(t)
	var stages []string
	p, err := New(Options{StateDir: t.TempDir(), Log: testWriter{t}, Progress: func(s string, d time.Duration) {
		stages = append(stages, s+" ("+d.Round(time.Millisecond).String()+")")
	}})
	if err != nil {
		t.Fatal(err)
	}
	name := "rekindle-test-" + strings.ToLower(time.Now().Format("150405"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 2*time.Minute)
		defer cancel()
		if err := p.Delete(ctx, name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	start := time.Now()
	info, err := p.Create(t.Context(), cluster.Spec{Name: name, Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Create -> Ready for a kind cluster of 2 nodes: %s (%s)", time.Since(start).Round(time.Millisecond), strings.Join(stages, ", "))
	if info.State != cluster.Running || !strings.HasPrefix(info.APIServer, "https://127.0.0.1:") {
		t.Fatalf("Create = %+v", info)
	}
	checkKubeconfig(t, p, name, info)
	checkNodes(t, name, info, 2)
	again, err := p.Create(t.Context(), cluster.Spec{Name: name, Nodes: 1})
	if err != nil || again.APIServer != info.APIServer {
		t.Fatalf("second Create = %+v, %v; want the same cluster at %s", again, err, info.APIServer)
	}
	if got, err := p.Get(t.Context(), name); err != nil || got.State != cluster.Running {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	checkLoadImage(t, p, name)
	checkStorage(t, info)
	if err := p.Delete(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	if got, err := p.Get(t.Context(), name); err != nil || got.State != cluster.Missing {
		t.Fatalf("after Delete, Get = %+v, %v", got, err)
	}
	if out, err := exec.Command("docker", "ps", "-a", "-q", "--filter", "label=io.x-k8s.kind.cluster="+name).Output(); err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("node containers left after Delete: %q, %v", out, err)
	}
}

// TestNoRuntimeFailsAtOnce: without Docker or Podman every operation fails
// at once with the reason, and deleting a cluster rekindle never made is a no-op.
func TestNoRuntimeFailsAtOnce(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("KIND_EXPERIMENTAL_PROVIDER", "")
	p, err := New(Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	start := time.Now()
	_, err = p.Create(ctx, cluster.Spec{Name: "x"})
	if !errors.Is(err, ErrNoRuntime) || !strings.Contains(err.Error(), ErrNoRuntime.Error()) {
		t.Fatalf("Create = %v; want %q", err, ErrNoRuntime)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Create took %s to fail", took)
	}
	t.Logf("Create: %v", err)
	if _, err := p.Get(ctx, "x"); !errors.Is(err, ErrNoRuntime) {
		t.Errorf("Get = %v", err)
	}
	if _, err := p.List(ctx); !errors.Is(err, ErrNoRuntime) {
		t.Errorf("List = %v", err)
	}
	if err := p.Delete(ctx, "x"); err != nil {
		t.Errorf("Delete of a cluster rekindle never made = %v; want no-op", err)
	}
	lxc, _ := New(Options{StateDir: t.TempDir(), Runtime: "lxc"})
	if _, err := lxc.Create(ctx, cluster.Spec{Name: "x"}); !errors.Is(err, ErrNoRuntime) || !strings.Contains(err.Error(), `unknown container runtime "lxc"`) {
		t.Errorf("Create with runtime lxc = %v", err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
