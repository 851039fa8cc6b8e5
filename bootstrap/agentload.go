package bootstrap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/providers/image"
)

// LocalAgentImage is the repository of the agent images rekindle builds
// itself and loads into clusters that load images (kind): never pushed, so
// never pulled; the tag holds the image's digest.
const LocalAgentImage = "rekindle.local/rekindle"

// loadsOwnAgentImage reports whether cluster c's in-cluster agent runs an
// image rekindle builds from its own binary and loads into the nodes: the
// cluster loads images, and no image was named (--agent-image, agent.image).
func (r *run) loadsOwnAgentImage(c blueprints.Cluster) bool {
	named := r.opts.AgentImage != "" || (c.Agent != nil && c.Agent.Image != "")
	return !named && Capabilities(c.Provider).LoadsImages
}

// loadAgentImage builds the agent's image from the agent binary
// (Options.AgentBinary, else this executable) with go-containerregistry,
// writes it as an OCI layout tarball under the environment's state, loads
// it into every node of cluster c and returns its reference.
func (r *run) loadAgentImage(ctx context.Context, c blueprints.Cluster) (string, error) {
	ref, archive, err := r.agentImageArchive(ctx)
	if err != nil {
		return "", fmt.Errorf("build the agent's image: %w", err)
	}
	p, err := r.provider(c, StepAgent)
	if err != nil {
		return "", err
	}
	loader, ok := p.(cluster.ImageLoader)
	if !ok {
		return "", fmt.Errorf("cluster %q: provider %s says it loads images but cannot", c.Name, c.Provider)
	}
	if err := loader.LoadImageArchive(ctx, c.Name, archive); err != nil {
		return "", err
	}
	return ref, nil
}

// loadWorkloadImages loads Options.LoadImages into cluster c's nodes when
// the cluster loads images; elsewhere it says they were not loaded.
func (r *run) loadWorkloadImages(ctx context.Context, c blueprints.Cluster) error {
	if len(r.opts.LoadImages) == 0 {
		return nil
	}
	if !Capabilities(c.Provider).LoadsImages {
		r.info(StepAgent, c.Name, "images not loaded: provider %s does not load images (its nodes pull from registries)", c.Provider)
		return nil
	}
	p, err := r.provider(c, StepAgent)
	if err != nil {
		return err
	}
	loader, ok := p.(cluster.ImageLoader)
	if !ok {
		return fmt.Errorf("cluster %q: provider %s says it loads images but cannot", c.Name, c.Provider)
	}
	for _, archive := range r.opts.LoadImages {
		if err := loader.LoadImageArchive(ctx, c.Name, archive); err != nil {
			return err
		}
	}
	return nil
}

// agentImageArchive builds (once per binary) the agent image's tarball.
func (r *run) agentImageArchive(ctx context.Context) (ref, archive string, err error) {
	bin := r.opts.AgentBinary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return "", "", err
		}
	}
	a, err := image.Build(ctx, image.Options{
		Binaries: []image.Binary{{Platform: v1.Platform{OS: "linux", Architecture: goruntime.GOARCH}, Path: bin}},
		Version:  r.opts.Version,
	})
	if err != nil {
		return "", "", err
	}
	d, err := a.Digest()
	if err != nil {
		return "", "", err
	}
	ref = LocalAgentImage + ":" + imageTag(r.opts.Version) + "-" + d.Hex[:12]
	archive = filepath.Join(r.paths.dir, "images", "agent-"+d.Hex[:12]+".tar")
	if _, err := os.Stat(archive); err == nil {
		return ref, archive, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", "", err
	}
	var buf bytes.Buffer
	if err := image.WriteLayout(ctx, &buf, a, ref); err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(filepath.Dir(archive), 0o700); err != nil {
		return "", "", err
	}
	tmp := archive + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		return "", "", err
	}
	return ref, archive, os.Rename(tmp, archive)
}

// imageTag turns a version into the start of a tag: [A-Za-z0-9_.-], at most 100.
func imageTag(version string) string {
	if version == "" {
		version = "dev"
	}
	t := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, version)
	if len(t) > 100 {
		t = t[:100]
	}
	return t
}
