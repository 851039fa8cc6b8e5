package bootstrap

import (
	"encoding/json"
	"errors"
	"fmt"
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

// hostAgent is a `rekindle agent` process that rekindle runs on this machine
// for a cluster whose pods cannot run it (kwok simulates pods), or when the
// blueprint is a local directory an in-cluster agent cannot read.
type hostAgent struct {
	pidFile  string
	argsFile string
	logFile  string
	// metricsFile holds the URL the agent serves its metrics on (a
	// loopback port it picks), written by the agent while it serves.
	metricsFile string
}

func newHostAgent(dir, clusterName string) hostAgent {
	return hostAgent{
		pidFile:     filepath.Join(dir, clusterName+".pid"),
		argsFile:    filepath.Join(dir, clusterName+".args.json"),
		logFile:     filepath.Join(dir, clusterName+".log"),
		metricsFile: filepath.Join(dir, clusterName+".metrics"),
	}
}

// metricsURL is where the running agent serves /metrics, or "".
func (h hostAgent) metricsURL() string {
	data, err := os.ReadFile(h.metricsFile)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data)) + "/metrics"
}

// pid returns the agent's pid when it runs.
func (h hostAgent) pid() (int, bool) {
	data, err := os.ReadFile(h.pidFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	// The pid must still be an agent: pids are reused.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "\x00agent\x00") {
		return 0, false
	}
	if proc.Exited(pid) {
		return 0, false
	}
	return pid, true
}

// ensure starts the agent with args unless it already runs with them.
func (h hostAgent) ensure(command []string) (started bool, err error) {
	if pid, ok := h.pid(); ok {
		var running []string
		if data, err := os.ReadFile(h.argsFile); err == nil && json.Unmarshal(data, &running) == nil && slices.Equal(running, command) {
			return false, nil
		}
		if err := proc.Stop(pid, 5*time.Second); err != nil {
			return false, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(h.pidFile), 0o700); err != nil {
		return false, err
	}
	logf, err := os.OpenFile(h.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return false, err
	}
	defer logf.Close()
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives this run and its Ctrl-C
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("start host agent: %w", err)
	}
	pid := cmd.Process.Pid
	go cmd.Wait() // reap it should it exit while this process still runs
	if err := writeFileAtomic(h.pidFile, []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		return true, err
	}
	data, _ := json.Marshal(command)
	return true, writeFileAtomic(h.argsFile, data, 0o600)
}

// stop ends the agent, if it runs, and removes its files (the log stays).
func (h hostAgent) stop() error {
	if pid, ok := h.pid(); ok {
		if err := proc.Stop(pid, 5*time.Second); err != nil {
			return err
		}
	}
	for _, f := range []string{h.pidFile, h.argsFile} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}
