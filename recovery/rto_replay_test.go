package recovery

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rekindle-dev/rekindle/bootstrap"
)

func TestReplayPhasesCarveOutTheRestore(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	s := time.Second
	replay := Phase{Name: PhaseReplay, Start: 2 * s, Duration: 10 * s, Status: bootstrap.StatusDone, Detail: "12 objects"}
	for _, tc := range []struct {
		name     string
		cs       bootstrap.ClusterSummary
		want     string
		inDetail string
	}{
		{"no restore", bootstrap.ClusterSummary{AppliedAfter: 8 * s},
			"replay 2s+8s, healthy 10s+2s", ""},
		{"restore inside the apply", bootstrap.ClusterSummary{AppliedAfter: 8 * s, Restores: []bootstrap.RestoreSpan{
			{Workload: "state", Backup: "daily-1", Items: 2, Start: t0.Add(3 * s), End: t0.Add(7 * s)}}},
			"replay 2s+1s, restore 3s+4s, replay 7s+3s, healthy 10s+2s", "state: 2 items from backup daily-1"},
		{"restore reaching past the step is clamped", bootstrap.ClusterSummary{AppliedAfter: 8 * s, Restores: []bootstrap.RestoreSpan{
			{Workload: "state", Skipped: true, Start: t0.Add(1 * s), End: t0.Add(11 * s)}}},
			"restore 2s+9s, healthy 11s+1s", "state: skipped, no backup"},
		{"one phase keeps the step's detail", bootstrap.ClusterSummary{},
			"replay 2s+10s", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := replayPhases(replay, tc.cs, t0)
			var parts []string
			var sum time.Duration
			for _, ph := range got {
				parts = append(parts, fmt.Sprintf("%s %s+%s", ph.Name, ph.Start, ph.Duration))
				sum += ph.Duration
				if ph.Name == PhaseRestore && !strings.Contains(ph.Detail, tc.inDetail) {
					t.Errorf("restore detail %q, want it to name %q", ph.Detail, tc.inDetail)
				}
			}
			if s := strings.Join(parts, ", "); s != tc.want {
				t.Errorf("phases %s\nwant   %s", s, tc.want)
			}
			if sum != replay.Duration {
				t.Errorf("phases add up to %s, want the replay's %s", sum, replay.Duration)
			}
			if len(got) == 1 && got[0].Detail != replay.Detail {
				t.Errorf("single phase detail %q, want the step's %q", got[0].Detail, replay.Detail)
			}
		})
	}
}
