package terraform

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rekindle-dev/rekindle/providers/infra"
)

// TestLifecycle runs the dev module through plan, apply, a no-op plan,
// outputs, a replacement, a stale plan and destroy against one state dir,
// each step with a new provisioner as separate rekindle runs would.
func TestLifecycle(t *testing.T) {
	requireTerraform(t)
	t.Parallel()
	ctx := context.Background()
	stateDir := t.TempDir()
	statePath := filepath.Join(stateDir, "terraform.tfstate")
	base := map[string]any{"cluster_name": "dev", "node_count": 3, "zones": []string{"a", "b"}}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		m[k] = v
		return m
	}
	var firstID string

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"plan on fresh state adds everything", func(t *testing.T) {
			plan, err := newProvisioner(t, "dev", stateDir, base).Plan(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := &infra.Plan{Add: 3, Summary: "3 to add, 0 to change, 0 to destroy", HasChanges: true}
			if !reflect.DeepEqual(plan, want) {
				t.Fatalf("plan = %+v, want %+v", plan, want)
			}
		}},
		{"apply returns outputs", func(t *testing.T) {
			out, err := newProvisioner(t, "dev", stateDir, base).Apply(ctx)
			if err != nil {
				t.Fatal(err)
			}
			firstID, _ = out.Values["cluster_id"].(string)
			if firstID == "" {
				t.Fatalf("cluster_id = %#v, want an id", out.Values["cluster_id"])
			}
			delete(out.Values, "cluster_id")
			want := &infra.Outputs{
				Values: map[string]any{
					"cluster_name": "dev",
					"node_count":   float64(3),
					"zones":        []any{"dev-a", "dev-b"},
					"token":        "s3cret",
				},
				Sensitive: map[string]bool{"token": true},
			}
			if !reflect.DeepEqual(out, want) {
				t.Fatalf("outputs = %#v, want %#v", out, want)
			}
			if got := out.Redacted()["token"]; got != "(sensitive)" {
				t.Errorf("Redacted token = %v", got)
			}
		}},
		{"second plan has no changes", func(t *testing.T) {
			plan, err := newProvisioner(t, "dev", stateDir, base).Plan(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := &infra.Plan{Summary: "0 to add, 0 to change, 0 to destroy"}
			if !reflect.DeepEqual(plan, want) {
				t.Fatalf("plan = %+v, want %+v", plan, want)
			}
		}},
		{"outputs read without applying", func(t *testing.T) {
			before, _ := os.ReadFile(statePath)
			out, err := newProvisioner(t, "dev", stateDir, nil).Outputs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if out.Values["cluster_id"] != firstID || out.Values["cluster_name"] != "dev" || !out.Sensitive["token"] {
				t.Fatalf("outputs = %#v", out)
			}
			if after, _ := os.ReadFile(statePath); string(after) != string(before) {
				t.Fatal("Outputs changed the state")
			}
		}},
		{"changed trigger shows a replace", func(t *testing.T) {
			plan, err := newProvisioner(t, "dev", stateDir, with("generation", 2)).Plan(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := &infra.Plan{Add: 1, Destroy: 1, Replace: []string{"terraform_data.cluster"},
				Summary: "1 to add, 0 to change, 1 to destroy; replace: terraform_data.cluster", HasChanges: true}
			if !reflect.DeepEqual(plan, want) {
				t.Fatalf("plan = %+v, want %+v", plan, want)
			}
		}},
		{"apply uses the saved plan", func(t *testing.T) {
			out, err := newProvisioner(t, "dev", stateDir, with("generation", 2)).Apply(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if id := out.Values["cluster_id"]; id == firstID {
				t.Fatalf("cluster_id unchanged after replace: %v", id)
			}
			if _, err := os.Stat(filepath.Join(stateDir, "default.tfplan")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("saved plan still there after apply: %v", err)
			}
		}},
		{"apply ignores a plan made with other vars", func(t *testing.T) {
			plan, err := newProvisioner(t, "dev", stateDir, with("node_count", 5)).Plan(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// generation is back to 1: replace again, plus the node change.
			if plan.Change != 0 || len(plan.Replace) != 1 {
				t.Fatalf("plan = %+v", plan)
			}
			out, err := newProvisioner(t, "dev", stateDir, with("node_count", 7)).Apply(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := out.Values["node_count"]; got != float64(7) {
				t.Fatalf("node_count = %v, want 7 (the stale plan said 5)", got)
			}
		}},
		{"destroy empties the state", func(t *testing.T) {
			p := newProvisioner(t, "dev", stateDir, with("node_count", 7))
			if err := p.Destroy(ctx); err != nil {
				t.Fatal(err)
			}
			if got := stateResources(t, statePath); len(got) != 0 {
				t.Fatalf("state still has %v", got)
			}
			out, err := p.Outputs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Values) != 0 {
				t.Fatalf("outputs after destroy = %v", out.Values)
			}
		}},
	}
	for _, s := range steps {
		start := time.Now()
		if !t.Run(s.name, s.run) {
			t.FailNow() // later steps build on earlier ones
		}
		t.Logf("%s: %v", s.name, time.Since(start).Round(time.Millisecond))
	}
}

// TestInitApplyTiming measures a cold run: copy, init and apply of the dev
// module on an empty state dir.
func TestInitApplyTiming(t *testing.T) {
	requireTerraform(t)
	t.Parallel()
	start := time.Now()
	p := newProvisioner(t, "dev", t.TempDir(), map[string]any{"cluster_name": "timing"})
	if _, err := p.Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("init+apply of infra/dev (3 terraform_data, 1 local module): %v", time.Since(start).Round(time.Millisecond))
}

func TestErrors(t *testing.T) {
	requireTerraform(t)
	t.Parallel()
	tests := []struct {
		name   string
		module string
		vars   map[string]any
		call   func(infra.Provisioner) error
		want   []string // substrings of the message
	}{
		{
			name:   "syntax error names the file",
			module: "broken",
			call:   func(p infra.Provisioner) error { _, err := p.Plan(context.Background()); return err },
			want:   []string{"terraform init in infra/broken: Error: Invalid expression", "on main.tf line 6", "Expected the start of an expression"},
		},
		{
			name:   "missing variable",
			module: "dev",
			call:   func(p infra.Provisioner) error { _, err := p.Apply(context.Background()); return err },
			want:   []string{"terraform apply in infra/dev: Error: No value for required variable", `"cluster_name"`},
		},
		{
			name:   "undeclared variable",
			module: "dev",
			vars:   map[string]any{"cluster_name": "x", "nope": true},
			call:   func(p infra.Provisioner) error { _, err := p.Plan(context.Background()); return err },
			want:   []string{"terraform plan in infra/dev: Error: Value for undeclared variable", `"nope"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call(newProvisioner(t, tt.module, t.TempDir(), tt.vars))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%s", w, msg)
				}
			}
			if strings.Contains(msg, "exit status") || strings.Count(msg, "\n") > maxDiagLines {
				t.Errorf("error is not a readable diagnostic:\n%s", msg)
			}
			var te *Error
			if !errors.As(err, &te) || te.Stderr == "" {
				t.Errorf("error is not an *Error with stderr: %#v", err)
			}
		})
	}
}

// TestPreconditionHalfway fails an apply after its first resource was
// created, then fixes the variable and continues from the state.
func TestPreconditionHalfway(t *testing.T) {
	requireTerraform(t)
	t.Parallel()
	ctx := context.Background()
	stateDir := t.TempDir()

	p := newProvisioner(t, "precondition", stateDir, map[string]any{"ok": false})
	plan, err := p.Plan(ctx)
	if err != nil {
		t.Fatalf("plan (the check is unknown until apply): %v", err)
	}
	if plan.Add != 2 {
		t.Fatalf("plan = %+v, want 2 to add", plan)
	}
	_, err = p.Apply(ctx)
	if err == nil || !strings.Contains(err.Error(), "terraform apply in infra/precondition: Error: Resource precondition failed") ||
		!strings.Contains(err.Error(), "second needs ok=true.") {
		t.Fatalf("apply error = %v", err)
	}
	if got := stateResources(t, filepath.Join(stateDir, "terraform.tfstate")); !slices.Equal(got, []string{"terraform_data.first"}) {
		t.Fatalf("state after failed apply = %v, want only terraform_data.first", got)
	}
	half, err := p.Outputs(ctx)
	if err != nil {
		t.Fatal(err)
	}

	p = newProvisioner(t, "precondition", stateDir, map[string]any{"ok": true})
	plan, err = p.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Add != 1 || len(plan.Replace) != 0 {
		t.Fatalf("plan after fix = %+v, want only second to add", plan)
	}
	out, err := p.Apply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if out.Values["first_id"] != half.Values["first_id"] || out.Values["second_id"] == nil {
		t.Fatalf("outputs = %v, first was %v", out.Values, half.Values["first_id"])
	}
}

// TestCancelledApplyResumes cancels an apply while its second resource is
// being created and checks the next run continues from the saved state.
func TestCancelledApplyResumes(t *testing.T) {
	requireTerraform(t)
	t.Parallel()
	stateDir := t.TempDir()
	marker := filepath.Join(t.TempDir(), "second-started")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := newProvisioner(t, "slow", stateDir, map[string]any{"marker": marker, "sleep": 120})
	done := make(chan error, 1)
	go func() { _, err := p.Apply(ctx); done <- err }()

	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("apply ended before it could be cancelled: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("second resource never started")
		}
	}
	start := time.Now()
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("apply did not stop within 90s of cancellation")
	}
	t.Logf("apply stopped %v after cancel: %v", time.Since(start).Round(time.Millisecond), err)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "terraform apply in infra/slow: interrupted") {
		t.Fatalf("error = %v, want an interrupted apply", err)
	}
	state := stateResources(t, filepath.Join(stateDir, "terraform.tfstate"))
	if !slices.Contains(state, "terraform_data.first") {
		t.Fatalf("state after cancel = %v, want terraform_data.first kept", state)
	}
	before, err := newProvisioner(t, "slow", stateDir, nil).Outputs(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	out, err := newProvisioner(t, "slow", stateDir, map[string]any{"marker": marker, "sleep": 0}).Apply(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if out.Values["first_id"] != before.Values["first_id"] || out.Values["second_id"] == nil {
		t.Fatalf("outputs after resume = %v, first was %v", out.Values, before.Values["first_id"])
	}
}

// TestStateLocation checks where the state goes: StateDir by default (also
// overriding the module's own backend), per workspace, or the module's
// backend configured by BackendConfig.
func TestStateLocation(t *testing.T) {
	requireTerraform(t)
	t.Parallel()
	custom := t.TempDir()
	tests := []struct {
		name   string
		mod    func(*Options)
		wantAt func(stateDir string) string
	}{
		{"default workspace", func(*Options) {},
			func(s string) string { return filepath.Join(s, "terraform.tfstate") }},
		{"named workspace", func(o *Options) { o.Workspace = "staging" },
			func(s string) string { return filepath.Join(s, "terraform.tfstate.d", "staging", "terraform.tfstate") }},
		{"module backend with backend config", func(o *Options) {
			o.BackendConfig = map[string]string{"path": filepath.Join(custom, "custom.tfstate")}
		}, func(string) string { return filepath.Join(custom, "custom.tfstate") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stateDir := t.TempDir()
			p := newProvisioner(t, "backend", stateDir, nil, tt.mod)
			if _, err := p.Apply(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := stateResources(t, tt.wantAt(stateDir)); !slices.Equal(got, []string{"terraform_data.only"}) {
				t.Fatalf("state = %v", got)
			}
			// A second run (new provisioner, refreshed copy) sees the same state.
			plan, err := newProvisioner(t, "backend", stateDir, nil, tt.mod).Plan(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if plan.HasChanges {
				t.Fatalf("second plan = %+v, want no changes", plan)
			}
		})
	}
}

func TestMissingBinary(t *testing.T) {
	tests := []struct {
		name   string
		binary string
		want   string
	}{
		{"not on PATH", "", "terraform not found on PATH; install it or pass --terraform"},
		{"explicit path missing", "/nonexistent/terraform", "terraform binary /nonexistent/terraform:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir())
			_, err := New(context.Background(), Options{
				Dir: filepath.Join(blueprint, "infra", "dev"), StateDir: t.TempDir(), Binary: tt.binary,
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	requireTerraform(t)
	dir := filepath.Join(blueprint, "infra", "dev")
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no dir", Options{StateDir: t.TempDir()}, "module dir is empty"},
		{"no state dir", Options{Dir: dir}, "state dir is empty"},
		{"dir missing", Options{Dir: "testdata/nope", StateDir: t.TempDir()}, "terraform module testdata/nope:"},
		{"dir outside root", Options{Dir: dir, Root: "testdata/blueprint/modules", StateDir: t.TempDir()}, "is not inside the blueprint"},
		{"state inside blueprint", Options{Dir: dir, StateDir: filepath.Join(dir, ".state")}, "must be outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(context.Background(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}
