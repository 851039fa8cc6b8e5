package kwok

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ToolsVersion is the content of hack/tools/VERSION: the key of the cache
// directory that hack/install-cluster-tools.sh builds the binaries into. A test
// keeps the two equal, and VERSION equal to the pins in hack/tools.
const ToolsVersion = "k8s-v1.36.3_etcd-v3.6.8_kwok-v0.8.0"

// EnvToolsDir overrides the tools directory; the binaries are in its bin/.
const EnvToolsDir = "REKINDLE_TOOLS_DIR"

// Binaries are the six programs a kwok cluster needs, as named in the bin dir.
var Binaries = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kwok", "kwokctl"}

// bins are the absolute paths of the binaries in one bin dir.
type bins struct {
	dir                                                          string
	apiserver, controllerManager, scheduler, etcd, kwok, kwokctl string
}

func binsIn(dir string) bins {
	p := func(n string) string { return filepath.Join(dir, n) }
	return bins{dir: dir, apiserver: p("kube-apiserver"), controllerManager: p("kube-controller-manager"),
		scheduler: p("kube-scheduler"), etcd: p("etcd"), kwok: p("kwok"), kwokctl: p("kwokctl")}
}

// CacheToolsDir is the versioned cache directory the install script uses by
// default: $XDG_CACHE_HOME/rekindle/tools/<ToolsVersion> (XDG_CACHE_HOME
// defaults to ~/.cache).
func CacheToolsDir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the user cache directory: %w", err)
	}
	return filepath.Join(cache, "rekindle", "tools", ToolsVersion), nil
}

// BinDirCandidates lists, in lookup order, where the binaries are looked for:
// binDir (when not empty), $REKINDLE_TOOLS_DIR/bin (when set), and the versioned
// cache's bin directory.
func BinDirCandidates(binDir string) []string {
	var dirs []string
	if binDir != "" {
		dirs = append(dirs, binDir)
	}
	if d := os.Getenv(EnvToolsDir); d != "" {
		dirs = append(dirs, filepath.Join(d, "bin"))
	}
	if d, err := CacheToolsDir(); err == nil {
		dirs = append(dirs, filepath.Join(d, "bin"))
	}
	return dirs
}

// FindBinDir returns the first candidate directory (see BinDirCandidates) that
// holds all six binaries, or an error that says what each one lacks.
func FindBinDir(binDir string) (string, error) {
	var msgs []string
	for _, d := range BinDirCandidates(binDir) {
		missing := missingBinaries(d)
		if len(missing) == 0 {
			abs, err := filepath.Abs(d)
			if err != nil {
				return "", err
			}
			return abs, nil
		}
		msgs = append(msgs, fmt.Sprintf("%s lacks %s", d, strings.Join(missing, ", ")))
	}
	return "", fmt.Errorf("the kwok cluster binaries (%s) are not installed: %s; build them with hack/install-cluster-tools.sh (about ten minutes the first time)",
		strings.Join(Binaries, ", "), strings.Join(msgs, "; "))
}

func missingBinaries(dir string) []string {
	var missing []string
	for _, b := range Binaries {
		fi, err := os.Stat(filepath.Join(dir, b))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	return missing
}

// buildTools runs hack/install-cluster-tools.sh next to toolsModuleDir
// (hack/tools) and returns the bin dir it printed last.
func buildTools(ctx context.Context, toolsModuleDir string, log io.Writer) (string, error) {
	if toolsModuleDir == "" {
		return "", errors.New("cannot build them: no tools module directory (hack/tools of a rekindle checkout) was given")
	}
	if _, err := exec.LookPath("go"); err != nil {
		return "", errors.New("cannot build them: go is not on PATH")
	}
	script, err := filepath.Abs(filepath.Join(toolsModuleDir, "..", "install-cluster-tools.sh"))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("cannot build them: %w", err)
	}
	if log == nil {
		log = io.Discard
	}
	fmt.Fprintf(log, "building the kwok cluster binaries (%s) with %s; this takes about ten minutes the first time on two cores\n",
		strings.Join(Binaries, ", "), script)
	start := time.Now()
	var stdout bytes.Buffer
	tail := newTail(40)
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(log, tail)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w\n%s", script, err, tail)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	dir := strings.TrimSpace(lines[len(lines)-1])
	if missing := missingBinaries(dir); len(missing) > 0 {
		return "", fmt.Errorf("%s finished but %s lacks %s", script, dir, strings.Join(missing, ", "))
	}
	fmt.Fprintf(log, "built the kwok cluster binaries into %s in %s\n", dir, time.Since(start).Round(time.Second))
	return dir, nil
}
