package blueprints

import (
	"context"
	"fmt"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// renderHelm renders a chart from the repo as `helm template --include-crds`
// does (hooks, which are not part of the release's steady state, left out)
// and returns what the agent needs to install it as a real release.
func (r *Repo) renderHelm(ctx context.Context, w Workload, d *decrypter) ([]*unstructured.Unstructured, *RenderedHelm, error) {
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
