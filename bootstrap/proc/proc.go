// Package proc stops the host processes rekindle starts and leaves running
// (host-process agents, Flux's controllers on kwok): SIGTERM first, then
// SIGKILL once a grace period has passed. A process that has exited, or is
// a zombie waiting for a parent that is gone, counts as stopped.
package proc

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// Exited reports whether pid no longer runs: it is gone, or a zombie.
func Exited(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil || p.Signal(syscall.Signal(0)) != nil {
		return true
	}
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
			return true
		}
	}
	return false
}

// Stop sends pid SIGTERM, waits up to grace for it to exit, then kills it
// and waits until it is gone, so that what it held (its ports) is free when
// Stop returns. A pid that is already gone is not an error.
func Stop(pid int, grace time.Duration) error {
	p, err := os.FindProcess(pid)
	if err != nil || p.Signal(syscall.SIGTERM) != nil {
		return nil // already gone
	}
	if waitExit(pid, grace) {
		return nil
	}
	if err := p.Kill(); err != nil && !Exited(pid) {
		return fmt.Errorf("stop pid %d: %w", pid, err)
	}
	if !waitExit(pid, killWait) {
		return fmt.Errorf("stop pid %d: still running %s after SIGKILL", pid, killWait)
	}
	return nil
}

// killWait bounds the wait for a killed process to be gone.
const killWait = 5 * time.Second

func waitExit(pid int, limit time.Duration) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if Exited(pid) {
			return true
		}
	}
	return Exited(pid)
}
