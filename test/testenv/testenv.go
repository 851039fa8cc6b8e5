// Package testenv decides, in one place, what a test does when a real part it
// needs (kwok's binaries, terraform, a container engine, a browser) is
// missing: skip with the reason on a developer's machine, fail in CI, where
// .ci/run installs every part and a skip would hide that it did not.
package testenv

import (
	"os"
	"testing"
)

// InCI reports whether the tests run in CI (CI=true, as .ci/run and most CI
// services set it).
func InCI() bool { return os.Getenv("CI") == "true" }

// Need ends tb when err says that part is missing: it fails in CI and skips
// elsewhere, naming the part and why. A nil err does nothing.
func Need(tb testing.TB, part string, err error) {
	tb.Helper()
	if err == nil {
		return
	}
	if InCI() {
		tb.Fatalf("CI=true but %s is missing: %v", part, err)
	}
	tb.Skipf("skipping: needs %s: %v", part, err)
}
