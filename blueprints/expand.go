package blueprints

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"
)

// Expand returns a copy of the environment with {{ .Infra.Outputs.NAME }}
// templates in its cluster fields filled from the Terraform outputs. With nil
// outputs (infra not applied yet) the templates are left as they are.
func (r *Repo) Expand(envName string, outputs map[string]any) (*Environment, error) {
	env, err := r.Blueprint.Environment(envName)
	if err != nil {
		return nil, err
	}
	if outputs == nil {
		c := *env
		return &c, nil
	}
	raw, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return nil, err
	}
	data := map[string]any{"Infra": map[string]any{"Outputs": outputs}}
	m := tree.(map[string]any)
	// Only cluster fields take templates; workloads (Helm values may hold
	// their own {{ }}) and Terraform vars are passed through untouched.
	clusters, _ := m["clusters"].([]any)
	for i, c := range clusters {
		cm, ok := c.(map[string]any)
		if !ok {
			continue
		}
		for k, v := range cm {
			if k == "workloads" {
				continue
			}
			if cm[k], err = expandStrings(v, data, fmt.Sprintf("environment %s: clusters[%d].%s", envName, i, k)); err != nil {
				return nil, err
			}
		}
	}
	if raw, err = json.Marshal(tree); err != nil {
		return nil, err
	}
	var out Environment
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func expandStrings(v any, data map[string]any, where string) (any, error) {
	switch v := v.(type) {
	case string:
		if !strings.Contains(v, "{{") {
			return v, nil
		}
		t, err := template.New(where).Option("missingkey=error").Parse(v)
		if err != nil {
			return nil, fmt.Errorf("%s: template %q: %w", where, v, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return nil, fmt.Errorf("%s: template %q: %w (is the infra applied, and does it have that output?)", where, v, err)
		}
		return b.String(), nil
	case map[string]any:
		for k, e := range v {
			x, err := expandStrings(e, data, where+"."+k)
			if err != nil {
				return nil, err
			}
			v[k] = x
		}
	case []any:
		for i, e := range v {
			x, err := expandStrings(e, data, fmt.Sprintf("%s[%d]", where, i))
			if err != nil {
				return nil, err
			}
			v[i] = x
		}
	}
	return v, nil
}
