package kind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	kindcluster "sigs.k8s.io/kind/pkg/cluster"
)

// ErrNoRuntime says why kind cannot run here; every operation that needs a
// container runtime fails with it at once (wrapped with what was tried).
var ErrNoRuntime = errors.New("kind needs a container runtime (Docker or Podman) that can run privileged containers; the kwok provider works without one")

// runtimeCheckTimeout bounds `docker info` and the privileged test container:
// a daemon that does not answer must not stall rekindle.
const runtimeCheckTimeout = 15 * time.Second

// runtime is a container runtime that answered.
type runtime struct {
	name   string // docker or podman
	option kindcluster.ProviderOption
}

// detectRuntime finds a Docker or Podman that can start kind's nodes: its
// daemon (or service) answers `info`, the node image is present or can be
// pulled, and a privileged container of it runs (kind's nodes are
// privileged). With nodeImage empty only the daemon is checked. want is
// "docker", "podman" or "" (KIND_EXPERIMENTAL_PROVIDER, else Docker then Podman).
func detectRuntime(ctx context.Context, want, nodeImage string) (runtime, error) {
	if want == "" {
		want = os.Getenv("KIND_EXPERIMENTAL_PROVIDER")
	}
	candidates := []string{"docker", "podman"}
	switch want {
	case "":
	case "docker", "podman":
		candidates = []string{want}
	default:
		return runtime{}, fmt.Errorf("%w (unknown container runtime %q: use docker or podman)", ErrNoRuntime, want)
	}
	var why []string
	for _, name := range candidates {
		err := checkRuntime(ctx, name, nodeImage)
		if err == nil {
			opt := kindcluster.ProviderWithDocker()
			if name == "podman" {
				opt = kindcluster.ProviderWithPodman()
			}
			return runtime{name: name, option: opt}, nil
		}
		why = append(why, err.Error())
	}
	return runtime{}, fmt.Errorf("%w (%s)", ErrNoRuntime, strings.Join(why, "; "))
}

func checkRuntime(ctx context.Context, name, nodeImage string) error {
	if _, err := exec.LookPath(name); err != nil {
		return fmt.Errorf("%s is not on PATH", name)
	}
	out, err := run(ctx, name, "info")
	if err != nil {
		return fmt.Errorf("%s info: %v: %s", name, err, lastLine(out))
	}
	if nodeImage == "" {
		return nil
	}
	// Without the node image no cluster can start: pull it now, so that an
	// offline machine says so at once instead of in the middle of a create.
	if _, err := run(ctx, name, "image", "inspect", nodeImage); err != nil {
		if out, err := run(ctx, name, "pull", nodeImage); err != nil {
			return fmt.Errorf("%s has no node image %s and cannot pull it: %s (on a machine without registry access, hack/kind-node-image.sh builds %s)", name, nodeImage, lastLine(out), OfflineNodeImage)
		}
	}
	if out, err := run(ctx, name, "run", "--rm", "--privileged", "--entrypoint", "true", nodeImage); err != nil {
		return fmt.Errorf("%s cannot run a privileged container: %v: %s", name, err, lastLine(out))
	}
	return nil
}

func run(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, runtimeCheckTimeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("no answer within %s", runtimeCheckTimeout)
	}
	return out.String(), err
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// Available reports whether kind can start a cluster here from nodeImage
// (when empty, the default: OfflineNodeImage where the engine holds it, else
// kind's own): a container runtime answers, the image is present or can be
// pulled, and privileged containers of it run. When it cannot, the error
// (wrapping ErrNoRuntime) says which piece is missing.
func Available(ctx context.Context, nodeImage string) error {
	if nodeImage == "" {
		rt, err := detectRuntime(ctx, "", "")
		if err != nil {
			return err
		}
		nodeImage = defaultNodeImage(ctx, rt.name)
	}
	_, err := detectRuntime(ctx, "", nodeImage)
	return err
}
