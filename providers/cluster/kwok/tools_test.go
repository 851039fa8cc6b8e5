package kwok

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// hackTools is hack/tools relative to this package.
const hackTools = "../../../hack/tools"

// TestToolsVersion keeps ToolsVersion, hack/tools/VERSION (the install
// script's cache key) and the pins in hack/tools together, so that changing a
// pin changes the cache directory and the binaries are rebuilt.
func TestToolsVersion(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(hackTools, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != ToolsVersion {
		t.Errorf("hack/tools/VERSION is %q but ToolsVersion is %q: change both together", got, ToolsVersion)
	}

	k8s := requireVersion(t, filepath.Join(hackTools, "go.mod"), "k8s.io/kubernetes")
	etcd := requireVersion(t, filepath.Join(hackTools, "go.mod"), "go.etcd.io/etcd/server/v3")
	kwok := requireVersion(t, filepath.Join(hackTools, "kwok", "go.mod"), "sigs.k8s.io/kwok")
	if want := "k8s-" + k8s + "_etcd-" + etcd + "_kwok-" + kwok; ToolsVersion != want {
		t.Errorf("the pins in hack/tools say %q but ToolsVersion (and hack/tools/VERSION) say %q", want, ToolsVersion)
	}
}

// requireVersion returns the version go.mod requires of module.
func requireVersion(t *testing.T, gomod, module string) string {
	t.Helper()
	b, err := os.ReadFile(gomod)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && f[0] == module {
			return f[1]
		}
	}
	t.Fatalf("%s does not require %s", gomod, module)
	return ""
}

func TestBinDirCandidates(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/cache")
	t.Setenv(EnvToolsDir, "/tools")
	got := BinDirCandidates("/explicit")
	want := []string{"/explicit", "/tools/bin", "/cache/rekindle/tools/" + ToolsVersion + "/bin"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("BinDirCandidates = %v, want %v", got, want)
	}

	t.Setenv(EnvToolsDir, "")
	if got := BinDirCandidates(""); len(got) != 1 || got[0] != want[2] {
		t.Errorf("BinDirCandidates without BinDir and %s = %v", EnvToolsDir, got)
	}

	empty := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", empty)
	_, err := FindBinDir(empty)
	if err == nil || !strings.Contains(err.Error(), "kube-apiserver") || !strings.Contains(err.Error(), "install-cluster-tools.sh") {
		t.Errorf("FindBinDir in an empty dir: %v; want the missing binaries and how to build them", err)
	}
}

// TestBuildIfMissing builds the binaries through the provider, as a fresh
// machine would, into an empty tools directory (fast when the Go build cache
// is warm; skipped with -short).
func TestBuildIfMissing(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the tools build in -short mode")
	}
	requireBinDir(t) // the Go build cache is warm only where they were built before
	// Keep the Go build cache where it is: it also lives under XDG_CACHE_HOME.
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOCACHE", strings.TrimSpace(string(gocache)))
	tools := t.TempDir()
	t.Setenv(EnvToolsDir, tools)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	var log strings.Builder
	p, err := New(Options{StateDir: t.TempDir(), BuildIfMissing: true, ToolsModuleDir: hackTools, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.(*provider).binaries(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if b.dir != filepath.Join(tools, "bin") {
		t.Errorf("built into %s, want %s", b.dir, filepath.Join(tools, "bin"))
	}
	for _, want := range []string{"building the kwok cluster binaries", "about ten minutes", "built the kwok cluster binaries into"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	t.Logf("build log:\n%s", log.String())
}
