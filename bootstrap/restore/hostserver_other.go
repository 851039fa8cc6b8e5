//go:build !linux

package restore

import "os/exec"

// dieWithParent: only Linux can tie a child's life to its parent's; elsewhere the agent's Stop ends it.
func dieWithParent(*exec.Cmd) {}
