package blueprints

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadInvalid loads each broken blueprint under testdata/invalid and checks
// that every expected problem is reported with its line and field.
func TestLoadInvalid(t *testing.T) {
	type want struct {
		line    int
		field   string
		message string
	}
	cases := []struct {
		dir  string
		want []want
	}{
		{"unknown-field", []want{{12, "spec.environments[0].clusters[0].kwok.node", "unknown field (known fields: nodes)"}}},
		{"wrong-type", []want{
			{9, "spec.environments[0].recovery.rto", `must be a duration string like "10m", got number 10`},
			{14, "spec.environments[0].clusters[0].kwok.nodes", `must be an integer, got string "three"`},
		}},
		{"missing-path", []want{{13, "spec.environments[0].clusters[0].workloads[0].path", `path "workloads/nope" does not exist in the repo`}}},
		{"unknown-provider", []want{{10, "spec.environments[0].clusters[0].provider", `unknown provider "kwk" (want one of kwok, kind, capi, existing)`}}},
		{"dependson-cycle", []want{{14, "spec.environments[0].clusters[0].workloads[0].dependsOn", "dependsOn cycle: one -> three -> two -> one"}}},
		{"dependson-unknown", []want{{14, "spec.environments[0].clusters[0].workloads[0].dependsOn[0]", `unknown workload "database"`}}},
		{"duplicate-names", []want{
			{14, "spec.environments[0].clusters[0].workloads[1].name", `duplicate name "apps"`},
			{16, "spec.environments[0].clusters[1].name", `duplicate name "a"`},
			{18, "spec.environments[1].name", `duplicate name "dev"`},
		}},
		{"many-problems", []want{
			{1, "apiVersion", `must be "rekindle.dev/v1alpha1", got "rekindle.dev/v1beta9"`},
			{7, "spec.environments[0].name", `"Dev_Env" is not a valid name`},
			{10, "spec.environments[0].infra.terraform.dir", `path "../outside" leaves the repo`},
			{15, "spec.environments[0].clusters[0].kind.config", `path "/etc/kind.yaml" is absolute`},
			{17, "spec.environments[0].clusters[0].workloads[0]", "has both path and helm"},
			{21, "spec.environments[0].clusters[0].workloads[1]", "needs either path"},
		}},
		{"bad-yaml", []want{{8, "", "not valid YAML"}}},
		{"yaml-alias", []want{
			{10, "spec.environments[0].infra.terraform.dir", `path "infra" does not exist in the repo`},
			{13, "spec.environments[0].infra.terraform.vars.b", "YAML aliases are not allowed"},
		}},
		{"template-without-infra", []want{{9, "spec.environments[0].clusters[0].name", "uses a template but the environment has no infra.terraform"}}},
		{"agent-rbac", []want{
			{12, "spec.environments[0].clusters[0].agent.rbac", "scoped needs an allow list"},
			{16, "spec.environments[0].clusters[1].agent.rbac", `unknown mode "namespaced" (want cluster-admin or scoped)`},
		}},
		{"all-at-once", []want{
			{10, "spec.environments[0].clusters[0].provider", `unknown provider "kwk"`},
			{12, "spec.environments[0].clusters[0].kwok.node", "unknown field (known fields: nodes)"},
			{15, "spec.environments[0].clusters[0].workloads[0].path", `path "workloads/nope" does not exist in the repo`},
			{18, "spec.environments[0].clusters[0].workloads[1].dependsOn[0]", `unknown workload "database"`},
			{19, "spec.environments[0].clusters[0].workloads[2].name", `duplicate name "apps"`},
			{21, "spec.environments[0].clusters[0].workloads[2].nameSpace", "unknown field"},
			{24, "spec.environments[1].recovery.rto", `invalid duration "soon"`},
		}},
		{"agent-image", []want{
			{12, "spec.environments[0].clusters[0].agent.image", `"registry.example/rekindle" is not an image reference with a tag or digest`},
			{16, "spec.environments[0].clusters[1].agent.image", `is not an image reference with a tag or digest`},
		}},
		{"flux-agent", []want{
			{12, "spec.environments[0].clusters[0].agent.type", `unknown agent "argo" (want rekindle or flux)`},
			{15, "spec.environments[0].clusters[1].agent.rbac", "scoped is for rekindle's own agent"},
			{18, "spec.environments[0].clusters[1].flux.path", `"clusters/b/flux-system/gotk-sync.yaml" is missing`},
			{19, "spec.environments[0].clusters[1].workloads", "a cluster synced by Flux takes its objects from flux.path"},
			{26, "spec.environments[0].clusters[2].flux.path", `"clusters/c/flux-system/gotk-sync.yaml" is missing`},
			{27, "spec.environments[0].clusters[2].flux.components", `path "clusters/c/gotk.yaml" does not exist in the repo`},
			{32, "spec.environments[0].clusters[3].flux.path", `path "clusters/nope" does not exist in the repo`},
			{33, "spec.environments[0].clusters[4].flux", "is required for agent.type flux"},
			{38, "spec.environments[0].clusters[5].flux", "is only for agent.type flux"},
		}},
		{"symlink-escape", []want{{13, "spec.environments[0].clusters[0].workloads[0].path", `path "apps" leaves the repo through a symlink`}}},
	}
	for _, tc := range cases {
		t.Run(tc.dir, func(t *testing.T) {
			dir := filepath.Join("testdata", "invalid", tc.dir)
			_, err := Load(dir)
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("Load(%s) = %v, want *InvalidError", dir, err)
			}
			if len(inv.Problems) != len(tc.want) {
				t.Errorf("got %d problems, want %d:\n%v", len(inv.Problems), len(tc.want), err)
			}
			for _, w := range tc.want {
				found := false
				for _, p := range inv.Problems {
					if p.Line == w.line && p.Field == w.field && strings.Contains(p.Message, w.message) {
						found = true
						if !strings.HasSuffix(p.File, filepath.Join(tc.dir, FileName)) {
							t.Errorf("problem names file %q, want .../%s/%s", p.File, tc.dir, FileName)
						}
					}
				}
				if !found {
					t.Errorf("missing problem at line %d, field %q, message containing %q; got:\n%v", w.line, w.field, w.message, err)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(t.TempDir())
	var inv *InvalidError
	if !errors.As(err, &inv) || !strings.Contains(err.Error(), "rekindle.yaml") || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("Load(empty dir) = %v, want a not-found problem naming rekindle.yaml", err)
	}
}

func TestLoadExample(t *testing.T) {
	r, err := Load(filepath.Join("examples", "local"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := r.Blueprint.Environment("dev")
	if err != nil {
		t.Fatal(err)
	}
	if got := env.Recovery.RTO.Minutes(); got != 5 {
		t.Errorf("rto = %v minutes, want 5", got)
	}
	if _, err := r.Blueprint.Environment("prod"); err == nil || !strings.Contains(err.Error(), `"prod" not found`) {
		t.Errorf("Environment(prod) = %v, want not found", err)
	}
}

func TestPathRefusesEscapes(t *testing.T) {
	r := &Repo{Dir: t.TempDir()}
	for _, p := range []string{"../x", "/etc/passwd", "a/../../x", ""} {
		if _, err := r.Path(p); err == nil {
			t.Errorf("Path(%q) succeeded, want refusal", p)
		}
	}
}
