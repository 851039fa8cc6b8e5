package restore

import (
	"os/exec"
	"syscall"
)

// dieWithParent ends the server when the agent that started it ends.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
