package blueprints

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestRestoreInvalid: every wrong restore field is reported with its line and field.
func TestRestoreInvalid(t *testing.T) {
	_, err := Load("testdata/invalid/restore")
	var inv *InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("Load = %v, want *InvalidError", err)
	}
	w := "spec.environments[0].clusters[0].workloads"
	want := []struct {
		line          int
		field, substr string
	}{
		{13, w + "[0].restore.velero", "needs schedule"},
		{16, w + "[1].restore.velero", "has both schedule and backup"},
		{19, w + "[2].restore.velero.schedule", `"Daily_" is not a valid object name`},
		{20, w + "[2].restore.existingResourcePolicy", `unknown policy "replace" (want none or update)`},
		{21, w + "[2].restore.whenNoBackup", `unknown policy "ignore" (want fail or skip)`},
		{22, w + "[2].restore.includedNamespaces[1]", `"Bad NS" is not a valid namespace name`},
		{23, w + "[2].restore.restorePVs", `must be true or false, got string "yes"`},
		{27, w + "[3].restore.includeNamespaces", "unknown field"},
	}
	if len(inv.Problems) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(inv.Problems), len(want), err)
	}
	for _, wt := range want {
		found := false
		for _, p := range inv.Problems {
			found = found || (p.Line == wt.line && p.Field == wt.field && strings.Contains(p.Message, wt.substr))
		}
		if !found {
			t.Errorf("missing problem at line %d, field %q, containing %q; got:\n%v", wt.line, wt.field, wt.substr, err)
		}
	}
}

// TestRestoreRender: a restore workload renders to no objects but carries
// its Restore, and sorts before the workload that depends on it.
func TestRestoreRender(t *testing.T) {
	r, err := Load("testdata/restore")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := r.Render(context.Background(), "dev", "a", RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.Workloads) != 2 || rc.Workloads[0].Name != "state" || rc.Workloads[1].Name != "app" {
		t.Fatalf("workloads = %+v, want state then app", rc.Workloads)
	}
	st := rc.Workloads[0]
	if st.Source != SourceRestore || st.Restore == nil || len(st.Objects) != 0 {
		t.Fatalf("state = source %q, restore %v, %d objects; want restore, set, 0", st.Source, st.Restore, len(st.Objects))
	}
	rs := st.Restore
	if rs.Velero.Schedule != "daily" || rs.VeleroNamespace() != "velero" || rs.NoBackupPolicy() != WhenNoBackupSkip ||
		rs.ExistingResourcePolicy != "update" || rs.RestorePVs == nil || *rs.RestorePVs || rs.IncludedResources[0] != "secrets" {
		t.Errorf("restore = %+v", rs)
	}
}
