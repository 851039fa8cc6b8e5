//go:build unix

package gitserver

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts cmd in its own process group, so killProcessGroup
// also stops the children it forks per connection.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func killProcessGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
