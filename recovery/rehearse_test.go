package recovery

import (
	"strings"
	"testing"

	"github.com/rekindle-dev/rekindle/providers/cluster/kind"
)

// TestAutoProviderFollowsKind: --provider auto picks kind exactly where kind
// can start a cluster, and says why not elsewhere.
func TestAutoProviderFollowsKind(t *testing.T) {
	got, why := autoProvider(t.Context())
	err := kind.Available(t.Context(), "")
	t.Logf("kind.Available: %v; auto picks %s%s", err, got, why)
	switch {
	case err == nil && (got != "kind" || why != ""):
		t.Errorf("kind can start a cluster here, but auto picks %s%s", got, why)
	case err != nil && (got != "kwok" || !strings.Contains(why, err.Error())):
		t.Errorf("kind cannot start a cluster here (%v), but auto picks %s%s", err, got, why)
	}
	t.Setenv("PATH", t.TempDir()) // no engine at all
	if got, why := autoProvider(t.Context()); got != "kwok" || !strings.Contains(why, kind.ErrNoRuntime.Error()) {
		t.Errorf("without an engine, auto picks %s%s", got, why)
	}
}
