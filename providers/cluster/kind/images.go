package kind

import (
	"context"
	"fmt"
	"os"
	"time"

	kinddefaults "sigs.k8s.io/kind/pkg/apis/config/defaults"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"

	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// OfflineNodeImage is the node image hack/kind-node-image.sh builds on the
// machine itself, with nothing pulled: Debian packages, and Kubernetes at
// the version of the kwok tools (hack/tools/kindnode/go.mod; a test checks).
// Where the engine holds it, it is the default node image; elsewhere kind's
// own (kindest/node), pulled by the engine.
const OfflineNodeImage = "rekindle.local/kind-node:v1.36.3"

// defaultNodeImage is OfflineNodeImage when the engine has it, else kind's default.
func defaultNodeImage(ctx context.Context, engine string) string {
	if _, err := run(ctx, engine, "image", "inspect", OfflineNodeImage); err == nil {
		return OfflineNodeImage
	}
	return kinddefaults.Image
}

// nodeImage is the image spec's nodes run: spec.NodeImage; else, unless the
// kind config names one per node, the default (defaultNodeImage) of the
// engine that answers. An empty image leaves the config's own.
func (p *provider) nodeImage(ctx context.Context, spec cluster.Spec) (string, error) {
	if spec.NodeImage != "" {
		return spec.NodeImage, nil
	}
	cfg, err := clusterConfig(spec, "")
	if err != nil {
		return "", err
	}
	for _, n := range cfg.Nodes {
		if n.Image != "" {
			return "", nil
		}
	}
	rt, err := detectRuntime(ctx, p.opts.Runtime, "")
	if err != nil {
		return "", err
	}
	return defaultNodeImage(ctx, rt.name), nil
}

// LoadImageArchive loads an image archive (an OCI layout or `docker save`
// tarball) into the containerd of every node of cluster name, as `kind load
// image-archive` does, so that its pods start from it without a registry.
func (p *provider) LoadImageArchive(ctx context.Context, name, archive string) error {
	if err := p.loadImageArchive(ctx, name, archive); err != nil {
		return fmt.Errorf("load image archive %q into kind cluster %q: %w", archive, name, err)
	}
	return nil
}

func (p *provider) loadImageArchive(ctx context.Context, name, archive string) error {
	k, err := p.kind(ctx, "")
	if err != nil {
		return err
	}
	nodes, err := k.ListInternalNodes(name)
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	if len(nodes) == 0 {
		return fmt.Errorf("the cluster has no nodes")
	}
	start := time.Now()
	for _, n := range nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := os.Open(archive)
		if err != nil {
			return err
		}
		err = nodeutils.LoadImageArchive(n, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("node %s: %w", n.String(), err)
		}
	}
	p.progress(fmt.Sprintf("load image into %d node(s)", len(nodes)), start)
	return nil
}
