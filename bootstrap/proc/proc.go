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

// Stop sends pid SIGTERM, waits up to grace for it to exit, then kills it.
// A pid that is already gone is not an error.
func Stop(pid int, grace time.Duration) error {
	p, err := os.FindProcess(pid)
	if err != nil || p.Signal(syscall.SIGTERM) != nil {
		return nil // already gone
	}
	for deadline := time.Now().Add(grace); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if Exited(pid) {
			return nil
		}
	}
	if err := p.Kill(); err != nil && !Exited(pid) {
		return fmt.Errorf("stop pid %d: %w", pid, err)
	}
	return nil
}
