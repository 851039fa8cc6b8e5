package flux

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rekindle-dev/rekindle/bootstrap/proc"
)

// Version is the Flux release whose controllers rekindle runs as host
// processes and whose gotk-components the examples hold; hack/flux/VERSION
// and hack/install-flux.sh build the same.
const Version = "v2.9.5"

// Controllers are the Flux controllers rekindle runs on the host.
var Controllers = []string{"source-controller", "kustomize-controller", "helm-controller"}

// ToolsDir is where hack/install-flux.sh builds the release: $REKINDLE_FLUX_DIR,
// else ${XDG_CACHE_HOME:-~/.cache}/rekindle/flux-<Version>.
func ToolsDir() string {
	if d := os.Getenv("REKINDLE_FLUX_DIR"); d != "" {
		return d
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "rekindle", "flux-"+Version)
}

// BinDir is where hack/install-flux.sh puts the controllers: ToolsDir()/bin.
func BinDir() string { return filepath.Join(ToolsDir(), "bin") }

// MissingBinaries lists the controllers not built into BinDir.
func MissingBinaries() []string {
	var out []string
	for _, c := range Controllers {
		if fi, err := os.Stat(filepath.Join(BinDir(), c)); err != nil || fi.Mode()&0o111 == 0 {
			out = append(out, c)
		}
	}
	return out
}

// HostControllers are one cluster's Flux controllers run as processes on
// this machine, against the cluster's API server (kwok simulates pods, so
// gotk-components' Deployments could not run them). Their pids, arguments,
// logs and source-controller's artifact storage live under Dir.
type HostControllers struct {
	Dir        string
	Kubeconfig string
}

func (h HostControllers) file(c, ext string) string { return filepath.Join(h.Dir, c+ext) }

// Running lists the controllers that run, each with its pid.
func (h HostControllers) Running() map[string]int {
	out := map[string]int{}
	for _, c := range Controllers {
		if pid, ok := h.pid(c); ok {
			out[c] = pid
		}
	}
	return out
}

func (h HostControllers) pid(c string) (int, bool) {
	data, err := os.ReadFile(h.file(c, ".pid"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	// pids are reused: it must still be this controller.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "/"+c+"\x00") {
		return 0, false
	}
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
			return 0, false
		}
	}
	return pid, true
}

// Ensure starts every controller that does not run, each on free loopback
// ports (metrics, health, and source-controller's artifact server), with
// leader election off and its log in Dir/<controller>.log, and waits until
// each started one answers its /readyz, as the Deployments' readiness
// probes would on a real cluster. A controller that runs with other
// arguments (another kubeconfig) is restarted; one that exits because a
// port it was given was taken in the meantime is started again on fresh
// ones; one that exits for another reason fails the call, naming what its
// log said last.
func (h HostControllers) Ensure(ctx context.Context) (started []string, err error) {
	if missing := MissingBinaries(); len(missing) > 0 {
		return nil, fmt.Errorf("the Flux controllers %s are not built in %s: run hack/install-flux.sh", strings.Join(missing, ", "), BinDir())
	}
	if err := os.MkdirAll(filepath.Join(h.Dir, "storage"), 0o700); err != nil {
		return nil, err
	}
	var todo []string
	for _, c := range Controllers {
		if pid, ok := h.pid(c); ok {
			if data, err := os.ReadFile(h.file(c, ".kubeconfig")); err == nil && string(data) == h.Kubeconfig {
				continue
			}
			if err := proc.Stop(pid, 10*time.Second); err != nil {
				return nil, err
			}
		}
		todo = append(todo, c)
	}
	for attempt := 1; len(todo) > 0; attempt++ {
		launched := map[string]launch{}
		for _, c := range todo {
			l, err := h.launch(c)
			if err != nil {
				return started, err
			}
			launched[c] = l
		}
		todo = nil
		for _, c := range Controllers {
			l, ok := launched[c]
			if !ok {
				continue
			}
			err := h.waitReady(ctx, c, l, startTimeout)
			switch {
			case err == nil:
				started = append(started, c)
			case errors.Is(err, errPortTaken) && attempt < startAttempts:
				todo = append(todo, c)
			default:
				return started, err
			}
		}
	}
	return started, nil
}

// launch starts one controller on fresh ports.
func (h HostControllers) launch(c string) (launch, error) {
	args, health, err := h.args(c)
	if err != nil {
		return launch{}, err
	}
	from := logSize(h.file(c, ".log"))
	pid, err := h.start(c, args)
	if err != nil {
		return launch{}, err
	}
	return launch{pid: pid, health: health, logFrom: from}, nil
}

func (h HostControllers) args(c string) (args []string, health string, err error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, "", err
	}
	args = []string{filepath.Join(BinDir(), c),
		"--metrics-addr=" + ports[0],
		"--health-addr=" + ports[1],
		"--enable-leader-election=false",
		"--watch-all-namespaces=true",
		"--log-encoding=json",
	}
	switch c {
	case "source-controller":
		storage, err := h.storageAddr(ports[2])
		if err != nil {
			return nil, "", err
		}
		args = append(args, "--storage-path="+filepath.Join(h.Dir, "storage"), "--storage-addr="+storage, "--storage-adv-addr="+storage)
	default:
		// A dependsOn not ready yet is retried after this, not Flux's 30s.
		args = append(args, "--requeue-dependency=2s")
	}
	return args, ports[1], nil
}

// storageAddr is source-controller's artifact server address: the one it
// had before, when that port is still free, else fresh (and remembered).
// The artifact URLs in the sources' status name it, and a restarted
// kustomize-controller may fetch such a URL before source-controller has
// rewritten it; with the old port gone it would retry a dead URL for
// minutes (seen: 3m35s, ten attempts).
func (h HostControllers) storageAddr(fresh string) (string, error) {
	file := h.file("source-controller", ".storage-addr")
	if data, err := os.ReadFile(file); err == nil {
		if old := strings.TrimSpace(string(data)); old != "" {
			if l, err := net.Listen("tcp", old); err == nil {
				l.Close()
				return old, nil
			}
		}
	}
	return fresh, os.WriteFile(file, []byte(fresh+"\n"), 0o600)
}

func (h HostControllers) start(c string, args []string) (int, error) {
	logf, err := os.OpenFile(h.file(c, ".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "RUNTIME_NAMESPACE="+Namespace, "KUBECONFIG="+h.Kubeconfig)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives this run, as the host agent does
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", c, err)
	}
	go cmd.Wait()
	pid := cmd.Process.Pid
	if err := os.WriteFile(h.file(c, ".pid"), []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		return pid, err
	}
	// The controllers take the kubeconfig from $KUBECONFIG only (their
	// pflag set has no --kubeconfig).
	return pid, os.WriteFile(h.file(c, ".kubeconfig"), []byte(h.Kubeconfig), 0o600)
}

// Stop ends every controller and removes their pid files; logs and
// storage stay until the directory is removed.
func (h HostControllers) Stop() error {
	var errs []error
	for _, c := range slices.Backward(Controllers) {
		if pid, ok := h.pid(c); ok {
			if err := proc.Stop(pid, 10*time.Second); err != nil {
				errs = append(errs, err)
			}
		}
		for _, ext := range []string{".pid", ".kubeconfig"} {
			if err := os.Remove(h.file(c, ext)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func freePorts(n int) ([]string, error) {
	var out []string
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a loopback port: %w", err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}
