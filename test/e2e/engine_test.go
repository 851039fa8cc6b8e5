package e2e

import (
	"fmt"
	"os/exec"
	"testing"

	"github.com/rekindle-dev/rekindle/test/testenv"
)

// needEngine skips (locally) or fails (CI=true: .ci/run starts one with
// hack/container-engine.sh) when no Docker engine answers.
func needEngine(t *testing.T) {
	t.Helper()
	var err error
	if out, derr := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); derr != nil {
		err = fmt.Errorf("docker info: %v: %.200s", derr, out)
	}
	testenv.Need(t, "a Docker engine (hack/container-engine.sh installs and starts one)", err)
}
