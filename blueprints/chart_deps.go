package blueprints

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

// maxDependencyDepth bounds charts whose dependencies have dependencies.
const maxDependencyDepth = 5

// addDependencies fetches, as `helm dependency build` would, the
// dependencies of lc's chart that are not vendored in its charts/: from
// their https or oci:// repository, at the version of Chart.lock when it
// has one, else the highest that matches the range. The chart with them
// added is saved once in the cache (keyed by the digests of the chart and
// of every dependency) and lc.path points there, so the agent loads the
// same chart. Nothing to add leaves lc as it is.
func (f *chartFetcher) addDependencies(ctx context.Context, lc *loadedChart, base string) error {
	digests, err := f.resolveDependencies(ctx, lc.chart, 0)
	if err != nil || len(digests) == 0 {
		return err
	}
	if err := action.CheckDependencies(lc.chart, lc.chart.Metadata.Dependencies); err != nil {
		return err
	}
	sort.Strings(digests)
	dir := filepath.Join(f.cache.dir, "built", refKey(append([]string{base}, digests...)...))
	name := fmt.Sprintf("%s-%s.tgz", lc.chart.Name(), lc.chart.Metadata.Version)
	lc.path = filepath.Join(dir, name)
	if _, err := os.Stat(lc.path); err == nil {
		return nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".build-*")
	if err != nil {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return fmt.Errorf("chart cache: %w", err)
		}
		if tmp, err = os.MkdirTemp(filepath.Dir(dir), ".build-*"); err != nil {
			return fmt.Errorf("chart cache: %w", err)
		}
	}
	if _, err := chartutil.Save(lc.chart, tmp); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("save chart %s with its dependencies: %w", lc.chart.Name(), err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		if _, serr := os.Stat(lc.path); serr == nil {
			return nil // another render built it meanwhile
		}
		return fmt.Errorf("chart cache: %w", err)
	}
	return nil
}

// resolveDependencies adds ch's missing dependencies (and theirs) and
// returns the digests of what it fetched.
func (f *chartFetcher) resolveDependencies(ctx context.Context, ch *chart.Chart, depth int) ([]string, error) {
	have := map[string]bool{}
	for _, d := range ch.Dependencies() {
		have[d.Name()] = true
	}
	var digests []string
	for _, dep := range ch.Metadata.Dependencies {
		if have[dep.Name] {
			continue
		}
		if depth >= maxDependencyDepth {
			return nil, fmt.Errorf("dependency %q: dependencies nested more than %d deep", dep.Name, maxDependencyDepth)
		}
		src, err := dependencySource(ch, dep)
		if err != nil {
			return nil, err
		}
		fc, err := f.fetch(ctx, src)
		if err != nil {
			return nil, fmt.Errorf("dependency %q: %w", dep.Name, err)
		}
		sub, err := loader.LoadArchive(bytes.NewReader(fc.data))
		if err != nil {
			return nil, fmt.Errorf("dependency %q: load %s version %s: %w", dep.Name, src, fc.version, err)
		}
		more, err := f.resolveDependencies(ctx, sub, depth+1)
		if err != nil {
			return nil, fmt.Errorf("dependency %q: %w", dep.Name, err)
		}
		ch.AddDependency(sub)
		have[dep.Name] = true
		digests = append(append(digests, fc.digest), more...)
	}
	return digests, nil
}

// dependencySource says where a dependency comes from, at the version
// Chart.lock pins when the chart has one.
func dependencySource(ch *chart.Chart, dep *chart.Dependency) (remoteChart, error) {
	version := dep.Version
	if ch.Lock != nil {
		for _, l := range ch.Lock.Dependencies {
			if l.Name == dep.Name && l.Repository == dep.Repository {
				version = l.Version
			}
		}
	}
	switch r := dep.Repository; {
	case strings.HasPrefix(r, "https://"):
		return remoteChart{repo: r, name: dep.Name, version: version}, nil
	case strings.HasPrefix(r, "oci://"):
		return remoteChart{ref: strings.TrimSuffix(r, "/") + "/" + dep.Name, version: version}, nil
	case r == "":
		return remoteChart{}, fmt.Errorf("dependency %q of chart %q is not in its charts/ directory and names no repository", dep.Name, ch.Name())
	default:
		return remoteChart{}, fmt.Errorf("dependency %q of chart %q: repository %q is not fetched: only https:// and oci:// repositories are (vendor it into charts/ with `helm dependency build`)", dep.Name, ch.Name(), redactURL(r))
	}
}

// chartDigest is a digest of a chart loaded from a directory: its files.
func chartDigest(ch *chart.Chart) string {
	parts := make([]string, 0, 2*len(ch.Raw))
	for _, f := range ch.Raw {
		parts = append(parts, f.Name, digestOf(f.Data))
	}
	sort.Strings(parts)
	return refKey(parts...)
}
