package restore

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// HostServer runs `velero server` as a child process of a host agent, for
// clusters whose pods are simulated (kwok): Velero's Deployment cannot run
// there, so it runs beside the API server, against the cluster's
// kubeconfig. It is started by the first restore workload of a pass, once
// the workloads it depends on have put Velero's CRDs, its
// BackupStorageLocation and the object store's credentials Secret in the
// cluster (Velero refuses to start before its CRDs exist: keys first), and
// it lives as long as the agent (it dies with it).
type HostServer struct {
	// BinDir holds velero and plugins/velero-plugin-for-aws (hack/install-velero.sh).
	BinDir string
	// Kubeconfig is the cluster's.
	Kubeconfig string
	// Dir gets the server's log (velero-<namespace>.log) and its temporary
	// files (Velero writes credential files under TMPDIR).
	Dir string
	// SyncPeriod is --backup-sync-period and --store-validation-frequency
	// (default 5s: a rebuild waits on the first sync).
	SyncPeriod time.Duration

	mu    sync.Mutex
	procs map[string]*hostProc
}

type hostProc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// Ensure starts the server for Velero's namespace ns unless it runs, and
// reports whether it started it.
func (h *HostServer) Ensure(ctx context.Context, ns string) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.procs == nil {
		h.procs = map[string]*hostProc{}
	}
	if p, ok := h.procs[ns]; ok {
		select {
		case <-p.done: // it exited: start it again
		default:
			return false, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	tmp := filepath.Join(h.Dir, "velero-"+ns+".tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return false, fmt.Errorf("start velero server: %w", err)
	}
	metrics, err := loopbackPort()
	if err != nil {
		return false, err
	}
	profiler, err := loopbackPort()
	if err != nil {
		return false, err
	}
	period := h.SyncPeriod
	if period <= 0 {
		period = 5 * time.Second
	}
	cmd := exec.Command(filepath.Join(h.BinDir, "velero"), "server",
		"--kubeconfig", h.Kubeconfig, "--namespace", ns,
		"--plugin-dir", filepath.Join(h.BinDir, "plugins"),
		"--features=", "--uploader-type=kopia",
		"--metrics-address", metrics, "--profiler-address", profiler,
		"--backup-sync-period", period.String(), "--store-validation-frequency", period.String())
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "VELERO_NAMESPACE="+ns)
	logf, err := os.OpenFile(filepath.Join(h.Dir, "velero-"+ns+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return false, fmt.Errorf("start velero server: %w", err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return false, fmt.Errorf("start velero server: %w", err)
	}
	p := &hostProc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	h.procs[ns] = p
	return true, nil
}

// Stop ends every server it started.
func (h *HostServer) Stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.procs {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
		}
	}
	h.procs = nil
}

func loopbackPort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a loopback port for velero server: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
