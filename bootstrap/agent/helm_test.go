package agent

import (
	"path/filepath"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/release"
)

// TestUpsertReleaseAfterInterruption: a release left pending (the process
// installing or upgrading it was killed, as a SIGKILL mid-run leaves it) no
// longer blocks the next run: Helm alone refuses it with "another operation
// is in progress" for good; upsertRelease marks it failed and upgrades it,
// on a real kwok cluster.
func TestUpsertReleaseAfterInterruption(t *testing.T) {
	c := newTestCluster(t, "agent-helm-pending")
	ctx := t.Context()
	chartPath, err := filepath.Abs("testdata/charts/tiny")
	if err != nil {
		t.Fatal(err)
	}
	ch, err := loader.Load(chartPath)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := helmConfig(c.Config, "tiny", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	upsert := func(values map[string]any) (string, int) {
		t.Helper()
		act, rev, err := upsertRelease(ctx, c.Config, releaseSpec{Name: "tiny", Namespace: "tiny", Chart: ch, Values: values, Timeout: time.Minute}, t.Logf)
		if err != nil {
			t.Fatalf("upsert: %v", err)
		}
		return act, rev
	}
	leavePending := func(status release.Status) {
		t.Helper()
		rel, err := action.NewGet(ac).Run("tiny")
		if err != nil {
			t.Fatal(err)
		}
		rel.SetStatus(status, "as a killed run leaves it")
		if err := ac.Releases.Update(rel); err != nil {
			t.Fatal(err)
		}
	}
	deployedAt := func(want int) {
		t.Helper()
		rel, err := action.NewGet(ac).Run("tiny")
		if err != nil {
			t.Fatal(err)
		}
		if rel.Version != want || rel.Info.Status != release.StatusDeployed {
			t.Errorf("release at revision %d, %s; want revision %d deployed", rel.Version, rel.Info.Status, want)
		}
	}

	if act, rev := upsert(map[string]any{"message": "one"}); act != "installed" || rev != 1 {
		t.Fatalf("first upsert: %s revision %d, want installed at 1", act, rev)
	}
	leavePending(release.StatusPendingInstall)
	if act, rev := upsert(map[string]any{"message": "one"}); act != "upgraded" || rev != 2 {
		t.Errorf("after an interrupted install: %s revision %d, want upgraded to 2", act, rev)
	}
	deployedAt(2)

	leavePending(release.StatusPendingUpgrade)
	if act, rev := upsert(map[string]any{"message": "two"}); act != "upgraded" || rev != 3 {
		t.Errorf("after an interrupted upgrade: %s revision %d, want upgraded to 3", act, rev)
	}
	deployedAt(3)
	if act, rev := upsert(map[string]any{"message": "two"}); act != "unchanged" || rev != 3 {
		t.Errorf("again with the same values: %s revision %d, want unchanged at 3", act, rev)
	}
}
