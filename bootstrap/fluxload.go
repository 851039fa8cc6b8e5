package bootstrap

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/flux"
	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// loadFluxImages loads into the nodes of cluster c, when its provider loads
// images (kind), the controllers' images that gotk-components names and the
// tools cache holds (hack/install-flux.sh builds them, tagged as
// gotk-components names them), so that the Deployments start without a
// registry; the others are left for the nodes to pull. It says what it did.
func (r *run) loadFluxImages(ctx context.Context, c blueprints.Cluster, layout *flux.Layout) (string, error) {
	if !Capabilities(c.Provider).LoadsImages {
		return "", nil
	}
	local, missing, err := flux.LocalImages(layout)
	if err != nil {
		return "", err
	}
	var notes []string
	if len(local) > 0 {
		p, err := r.provider(c, StepAgent)
		if err != nil {
			return "", err
		}
		loader, ok := p.(cluster.ImageLoader)
		if !ok {
			return "", fmt.Errorf("cluster %q: provider %s says it loads images but cannot", c.Name, c.Provider)
		}
		start := time.Now()
		for _, img := range local {
			if err := loader.LoadImageArchive(ctx, c.Name, img.Archive); err != nil {
				return "", fmt.Errorf("load Flux image %s: %w", img.Ref, err)
			}
		}
		notes = append(notes, fmt.Sprintf("%d Flux image(s) loaded into the nodes from %s in %s", len(local), flux.ImageDir(), time.Since(start).Round(time.Millisecond)))
	}
	if len(missing) > 0 {
		notes = append(notes, fmt.Sprintf("not in %s, so pulled by the nodes: %s", flux.ImageDir(), strings.Join(missing, ", ")))
	}
	return strings.Join(notes, "; "), nil
}

// waitFluxPods waits until the controllers' Deployments are available, so
// that flux-install ends with the controllers running, and a pod that
// cannot start (an image nobody can pull) is named here rather than as a
// GitRepository that never gets a status.
func (r *run) waitFluxPods(ctx context.Context, c blueprints.Cluster, kubeconfig string, layout *flux.Layout) (time.Duration, error) {
	cfg, err := cluster.RESTConfig(kubeconfig, "")
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, fluxPodsTimeout)
	defer cancel()
	start := time.Now()
	err = flux.WaitControllers(ctx, cfg, layout, flux.ControllersOptions{
		Progress: func(f string, a ...any) { r.info(StepAgent, c.Name, f, a...) }})
	return time.Since(start), err
}

// fluxPodsTimeout bounds the wait for the controllers' pods.
const fluxPodsTimeout = 5 * time.Minute
