package flux

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekindle-dev/rekindle/test/kwoktest"
	"github.com/rekindle-dev/rekindle/test/testenv"
)

func needControllers(t *testing.T) {
	t.Helper()
	if missing := MissingBinaries(); len(missing) > 0 {
		testenv.Need(t, "the Flux controllers", fmt.Errorf("%s not built in %s: run hack/install-flux.sh", strings.Join(missing, ", "), BinDir()))
	}
}

// The real source-controller, against a real API server: given a health
// port another process holds, it exits at start and waitReady says the
// port was taken (Ensure then starts it again on fresh ports); given free
// ports it answers /readyz.
func TestHostControllerStartPortTaken(t *testing.T) {
	needControllers(t)
	kc := kwoktest.New(t, "fluxstart", 1)
	layout := exampleLayout(t)
	// The CRDs the controllers need to start; no source they could fetch.
	err := Install(t.Context(), kc.Config, InstallOptions{Layout: layout, URL: "http://127.0.0.1:1/org/none", Commit: strings.Repeat("ab", 20), AgeKey: "AGE-SECRET-KEY-1TEST", SkipDeployments: true, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	hc := HostControllers{Dir: t.TempDir(), Kubeconfig: kc.Kubeconfig}
	t.Cleanup(func() { hc.Stop() })
	if err := os.MkdirAll(filepath.Join(hc.Dir, "storage"), 0o700); err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	args, _, err := hc.args("source-controller")
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range args {
		if strings.HasPrefix(a, "--health-addr=") {
			args[i] = "--health-addr=" + taken.Addr().String()
		}
	}
	from := logSize(hc.file("source-controller", ".log"))
	pid, err := hc.start("source-controller", args)
	if err != nil {
		t.Fatal(err)
	}
	err = hc.waitReady(t.Context(), "source-controller", launch{pid: pid, health: "127.0.0.1:1", logFrom: from}, time.Minute)
	if !errors.Is(err, errPortTaken) {
		t.Fatalf("source-controller on a taken port: %v, want %v", err, errPortTaken)
	}
	if _, ok := hc.pid("source-controller"); ok {
		t.Error("the exited controller still counts as running")
	}

	started, err := hc.Ensure(t.Context())
	if err != nil || len(started) != len(Controllers) {
		t.Fatalf("Ensure: started %v, %v", started, err)
	}
	if running := hc.Running(); len(running) != len(Controllers) {
		t.Fatalf("after Ensure %v run", running)
	}
	// Ensure again: all run with this kubeconfig, nothing is started.
	if started, err := hc.Ensure(t.Context()); err != nil || len(started) != 0 {
		t.Fatalf("second Ensure: started %v, %v", started, err)
	}
}

// A controller that cannot start (its kubeconfig names no cluster) fails
// Ensure with what its log said, not later as a tree that never gets Ready.
func TestHostControllerExitsAtStart(t *testing.T) {
	needControllers(t)
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hc := HostControllers{Dir: filepath.Join(dir, "flux"), Kubeconfig: kubeconfig}
	t.Cleanup(func() { hc.Stop() })
	_, err := hc.Ensure(t.Context())
	if err == nil || !strings.Contains(err.Error(), "source-controller exited at start") || errors.Is(err, errPortTaken) {
		t.Fatalf("Ensure with a kubeconfig without a cluster: %v", err)
	}
	t.Log(err)
}
