package blueprints

import (
	"context"
	"fmt"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/getter"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// renderHelm renders a chart from the repo as `helm template --include-crds`
// does (hooks, which are not part of the release's steady state, left out)
// and returns what the agent needs to install it as a real release.
func (r *Repo) renderHelm(ctx context.Context, w Workload) ([]*unstructured.Unstructured, *RenderedHelm, error) {
	chartPath, err := r.Path(w.Helm.Chart)
	if err != nil {
		return nil, nil, err
	}
	ch, err := loader.Load(chartPath)
	if err != nil {
		return nil, nil, fmt.Errorf("load chart %s: %w", w.Helm.Chart, err)
	}
	if err := action.CheckDependencies(ch, ch.Metadata.Dependencies); err != nil {
		return nil, nil, fmt.Errorf("chart %s: %w (vendor the dependencies into charts/ with `helm dependency build`)", w.Helm.Chart, err)
	}
	vals, err := r.helmValues(w)
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
		ChartPath:    chartPath,
		ChartName:    ch.Metadata.Name,
		ChartVersion: ch.Metadata.Version,
		Values:       vals,
	}, nil
}

// helmValues merges the values files in order, then the inline values, as
// `helm -f a.yaml -f b.yaml --set-json ...` would.
func (r *Repo) helmValues(w Workload) (map[string]any, error) {
	var opts values.Options
	for _, f := range w.Helm.ValuesFiles {
		abs, err := r.Path(f)
		if err != nil {
			return nil, fmt.Errorf("values file: %w", err)
		}
		opts.ValueFiles = append(opts.ValueFiles, abs)
	}
	vals, err := opts.MergeValues(getter.Providers{})
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	if len(w.Helm.Values) > 0 {
		vals = chartutil.CoalesceTables(deepCopyMap(w.Helm.Values), vals)
	}
	return vals, nil
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
