package agent

import (
	"os"
	"testing"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

func TestMain(m *testing.M) {
	// controller-runtime dumps a stack trace after 30s when no logger is set;
	// the process owner (cmd/, or this test binary) sets one.
	ctrllog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}
