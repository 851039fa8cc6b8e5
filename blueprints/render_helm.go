package blueprints

import (
	"context"
	"fmt"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// helmInput is a loaded chart and the capabilities to render it with.
type helmInput struct {
	chart *loadedChart
	caps  *helmCaps
}

// loadedChart is a chart ready to render, with where it came from.
type loadedChart struct {
	chart *chart.Chart
	// path is the chart directory or archive the agent loads again.
	path string
	// repo and digest are set for remote charts (see RenderedHelm).
	repo, digest string
}

// crdAPIVersions are the API versions of the CRDs in the chart's crds/
// directories (its own and its subcharts').
func (lc *loadedChart) crdAPIVersions() []string {
	var out []string
	for _, crd := range lc.chart.CRDObjects() {
		objs, err := decodeObjects(crd.File.Data)
		if err != nil {
			continue // the render itself reports a bad CRD file
		}
		out = append(out, crdAPIVersions(objs)...)
	}
	return out
}

// loadChart loads a workload's chart: from the repo, or a remote one
// (fetched into the chart cache, see fetchChart).
func (r *Repo) loadChart(ctx context.Context, w Workload) (*loadedChart, error) {
	if isRemoteChart(w.Helm) {
		return r.fetchChart(ctx, w.Helm)
	}
	chartPath, err := r.Path(w.Helm.Chart)
	if err != nil {
		return nil, err
	}
	ch, err := loader.Load(chartPath)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", w.Helm.Chart, err)
	}
	lc := &loadedChart{chart: ch, path: chartPath}
	if action.CheckDependencies(ch, ch.Metadata.Dependencies) != nil {
		// Not vendored: fetched from their repositories, as helm dependency build does.
		f, err := r.newChartFetcher(w.Helm)
		if err != nil {
			return nil, err
		}
		if err := f.addDependencies(ctx, lc, chartDigest(ch)); err != nil {
			return nil, fmt.Errorf("chart %s: %w", w.Helm.Chart, err)
		}
	}
	return lc, nil
}

// renderHelm renders a chart as `helm template --include-crds
// --kube-version V --api-versions ...` does (hooks, which are not part of
// the release's steady state, left out) and returns what the agent needs
// to install it as a real release.
func (r *Repo) renderHelm(ctx context.Context, w Workload, d *decrypter, h *helmInput) ([]*unstructured.Unstructured, *RenderedHelm, error) {
	ch := h.chart.chart
	vals, err := r.helmValues(w, d)
	if err != nil {
		return nil, nil, err
	}
	ns := w.Helm.Namespace
	if ns == "" {
		ns = w.Namespace
	}
	if ns == "" {
		ns = "default"
	}
	inst := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	inst.DryRun = true
	inst.ClientOnly = true
	inst.Replace = true
	inst.IncludeCRDs = true
	inst.DisableHooks = true
	inst.ReleaseName = w.Release()
	inst.Namespace = ns
	inst.KubeVersion = h.caps.kube
	inst.APIVersions = h.caps.apis
	rel, err := inst.RunWithContext(ctx, ch, vals)
	if err != nil {
		return nil, nil, fmt.Errorf("helm template %s: %w", w.Helm.Chart, err)
	}
	objs, err := decodeObjects([]byte(rel.Manifest))
	if err != nil {
		return nil, nil, fmt.Errorf("helm template %s: rendered manifest: %w", w.Helm.Chart, err)
	}
	setDefaultNamespace(objs, ns)
	return objs, &RenderedHelm{
		ReleaseName:  w.Release(),
		Namespace:    ns,
		ChartPath:    h.chart.path,
		ChartName:    ch.Metadata.Name,
		ChartVersion: ch.Metadata.Version,
		Repo:         h.chart.repo,
		Digest:       h.chart.digest,
		Values:       vals,
	}, nil
}

// helmValues merges the values files in order, then the inline values, as
// `helm -f a.yaml -f b.yaml --set-json ...` would. Values files encrypted
// with SOPS are decrypted in memory.
func (r *Repo) helmValues(w Workload, d *decrypter) (map[string]any, error) {
	vals := map[string]any{}
	for _, f := range w.Helm.ValuesFiles {
		abs, err := r.Path(f)
		if err != nil {
			return nil, fmt.Errorf("values file: %w", err)
		}
		data, err := readLimited(abs)
		if err != nil {
			return nil, fmt.Errorf("values: %w", err)
		}
		if data, err = d.read(abs, data); err != nil {
			return nil, fmt.Errorf("values: %w", err)
		}
		current := map[string]any{}
		if err := yaml.Unmarshal(data, &current); err != nil {
			return nil, fmt.Errorf("values: failed to parse %s: %w", f, err)
		}
		vals = mergeValues(vals, current)
	}
	if len(w.Helm.Values) > 0 {
		vals = chartutil.CoalesceTables(deepCopyMap(w.Helm.Values), vals)
	}
	return vals, nil
}

// mergeValues merges b into a as Helm merges -f files: maps recursively,
// anything else replaced.
func mergeValues(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if vm, ok := v.(map[string]any); ok {
			if om, ok := out[k].(map[string]any); ok {
				out[k] = mergeValues(om, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func deepCopyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = deepCopyMap(sub)
		}
		out[k] = v
	}
	return out
}
