package blueprints

import (
	"context"
	"strings"
	"testing"
)

// TestAllowList renders the example's apps cluster under allow-lists: what
// they permit renders, anything else is refused naming the object.
func TestAllowList(t *testing.T) {
	all := []string{"platform", "podinfo", "hello"}
	cases := []struct {
		name    string
		allow   Allow
		wantErr string
	}{
		{"everything listed", Allow{Namespaces: all, ClusterScopedKinds: []string{"CustomResourceDefinition"}}, ""},
		{"a namespace missing", Allow{Namespaces: []string{"platform", "podinfo"}, ClusterScopedKinds: []string{"CustomResourceDefinition"}}, `namespace "hello" not in allow.namespaces`},
		{"a Namespace object not allowed", Allow{Namespaces: []string{"podinfo", "hello"}, ClusterScopedKinds: []string{"CustomResourceDefinition"}}, "Namespace/platform: namespace not in allow.namespaces"},
		{"CRDs not allowed", Allow{Namespaces: all}, "CustomResourceDefinition/widgets.example.rekindle.dev: cluster-scoped kind CustomResourceDefinition not in allow.clusterScopedKinds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := loadExample(t)
			allow := tc.allow
			r.Blueprint.Spec.Environments[0].Clusters[0].Allow = &allow
			_, err := r.Render(context.Background(), "dev", "dev-apps", RenderOptions{Outputs: map[string]any{"apps_cluster": "dev-apps"}})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("render refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "allow-list")):
				t.Fatalf("err = %v, want a refusal containing %q", err, tc.wantErr)
			}
		})
	}
}
