package kwok

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// components are the processes of a kwokctl binary-runtime cluster, named as
// kwokctl names their pid and log files.
var components = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok-controller"}

// readPids returns the pids kwokctl recorded in <clusterDir>/pids.
func readPids(clusterDir string) map[string]int {
	pids := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(clusterDir, "pids", "*.pid"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		pids[strings.TrimSuffix(filepath.Base(f), ".pid")] = pid
	}
	return pids
}

// clearStalePids removes the pid files of processes that no longer run.
func clearStalePids(clusterDir string) {
	for c, pid := range readPids(clusterDir) {
		if !alive(pid) {
			_ = os.Remove(filepath.Join(clusterDir, "pids", c+".pid"))
		}
	}
}

// deadComponentNames lists the components that do not run.
func deadComponentNames(clusterDir string) []string {
	pids := readPids(clusterDir)
	var dead []string
	for _, c := range components {
		if pid, ok := pids[c]; !ok || !alive(pid) {
			dead = append(dead, c)
		}
	}
	return dead
}

// deadComponents says, per component that does not run, why and where its log is.
func deadComponents(clusterDir string) []string {
	pids := readPids(clusterDir)
	var out []string
	for _, c := range deadComponentNames(clusterDir) {
		log := filepath.Join(clusterDir, "logs", c+".log")
		if pid, ok := pids[c]; ok {
			out = append(out, fmt.Sprintf("%s (pid %d) is not running; see %s", c, pid, log))
		} else {
			out = append(out, fmt.Sprintf("%s was not started or was stopped (no pid file)", c))
		}
	}
	return out
}

// alive reports whether pid is a running process (a zombie is not).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist) || !procMounted()
	}
	// pid (comm) state ...; comm may hold spaces and parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

func procMounted() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// processesUnder returns the pids of processes whose command line mentions dir
// (the cluster's directory: every component runs a binary from it and keeps
// its data there).
func processesUnder(dir string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	needle := []byte(dir + string(os.PathSeparator))
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, needle) {
			continue
		}
		if alive(pid) {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids
}

// stopProcesses ends the recorded pids that still run from dir and any other
// process running from dir: SIGTERM, then SIGKILL after a grace period.
func stopProcesses(ctx context.Context, recorded map[string]int, dir string) error {
	targets := map[int]bool{}
	for _, pid := range recorded {
		if alive(pid) && cmdlineMentions(pid, dir) {
			targets[pid] = true
		}
	}
	for _, pid := range processesUnder(dir) {
		targets[pid] = true
	}
	if len(targets) == 0 {
		return nil
	}
	signal := func(sig syscall.Signal) {
		for pid := range targets {
			_ = syscall.Kill(pid, sig)
		}
	}
	waitGone := func(d time.Duration) bool {
		deadline := time.Now().Add(d)
		for {
			for pid := range targets {
				if !alive(pid) {
					delete(targets, pid)
				}
			}
			if len(targets) == 0 {
				return true
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return false
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	signal(syscall.SIGTERM)
	if waitGone(3 * time.Second) {
		return nil
	}
	signal(syscall.SIGKILL)
	if waitGone(3 * time.Second) {
		return nil
	}
	var left []string
	for pid := range targets {
		left = append(left, strconv.Itoa(pid))
	}
	sort.Strings(left)
	return fmt.Errorf("processes %s of the cluster survive SIGKILL", strings.Join(left, ", "))
}

func cmdlineMentions(pid int, dir string) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		// No /proc (not Linux): trust the pid file.
		return !procMounted()
	}
	return bytes.Contains(cmdline, []byte(dir+string(os.PathSeparator)))
}

// lockFile takes an exclusive flock on path, waiting while ctx allows; the
// returned func releases it.
func lockFile(ctx context.Context, path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); _ = f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for lock %s: %w", path, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
