package blueprints

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// isRemoteChart reports whether the chart comes from a Helm repository or an OCI registry.
func isRemoteChart(h *HelmWorkload) bool {
	return h.Repo != "" || strings.HasPrefix(h.Chart, "oci://")
}

// validateRemoteChart checks helm.repo, helm.chart and helm.version of a
// chart from a Helm repository or an OCI registry, without network.
func validateRemoteChart(p *problems, path string, h *HelmWorkload) {
	oci := strings.HasPrefix(h.Chart, "oci://")
	switch {
	case h.Repo != "" && oci:
		p.add(path+".repo", "is for Helm repositories; an oci:// chart names its registry itself")
	case h.Repo != "":
		u, err := url.Parse(h.Repo)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			p.add(path+".repo", "%q must be an https:// Helm repository URL", redactURL(h.Repo))
		} else if u.User != nil {
			p.add(path+".repo", "must not hold credentials; they come from the environment (see docs/blueprint.md)")
		}
		if h.Chart == "" || strings.Contains(h.Chart, "/") {
			p.add(path+".chart", "%q must be the chart's name in the repository", h.Chart)
		}
	default:
		u, err := url.Parse(h.Chart)
		if err != nil || u.Host == "" || strings.Trim(u.Path, "/") == "" {
			p.add(path+".chart", "%q must be oci://registry/path/name", h.Chart)
		} else if u.User != nil {
			p.add(path+".chart", "must not hold credentials; they come from Docker's config (see docs/blueprint.md)")
		} else if strings.Contains(path2last(u.Path), ":") {
			p.add(path+".chart", "%q: give the version in helm.version, not as a tag", h.Chart)
		}
	}
	if h.Version != "" {
		if _, err := semver.NewConstraint(h.Version); err != nil {
			p.add(path+".version", "%q is not a version or semver range: %v", h.Version, err)
		}
	}
}

func path2last(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

// redactURL drops the user information of a URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}

func (r *Repo) fetchChart(ctx context.Context, h *HelmWorkload) (*loadedChart, error) {
	return nil, fmt.Errorf("remote chart %s: charts from Helm repositories and OCI registries are not supported yet", h.Chart)
}
