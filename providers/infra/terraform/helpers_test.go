package terraform

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekindle-dev/rekindle/providers/infra"
)

const blueprint = "testdata/blueprint"

// TestMain checks that no run wrote into the blueprint: no .terraform, no
// lock file, no state, no changed byte.
func TestMain(m *testing.M) {
	before, err := treeDigest(blueprint)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	after, err := treeDigest(blueprint)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if before != after {
		fmt.Fprintf(os.Stderr, "FAIL: %s changed during the tests:\n--- before\n%s--- after\n%s", blueprint, before, after)
		code = 1
	}
	os.Exit(code)
}

// treeDigest lists every entry under dir with its mode and content hash.
func treeDigest(dir string) (string, error) {
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		sum := ""
		if d.Type().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			h := sha256.Sum256(data)
			sum = hex.EncodeToString(h[:8])
		}
		fmt.Fprintf(&b, "%s %v %s\n", path, info.Mode(), sum)
		return nil
	})
	return b.String(), err
}

// requireTerraform skips tests that run terraform when it is not installed.
func requireTerraform(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("terraform not found on PATH: skipping tests that run the real binary (install terraform >= 1.4 to run them)")
	}
}

// newProvisioner makes a provisioner for blueprint/infra/<module>, as a new
// run of rekindle would.
func newProvisioner(t *testing.T, module, stateDir string, vars map[string]any, mod ...func(*Options)) infra.Provisioner {
	t.Helper()
	opts := Options{
		Root:     blueprint,
		Dir:      filepath.Join(blueprint, "infra", module),
		Vars:     vars,
		StateDir: stateDir,
		Log:      testLog{t},
	}
	for _, m := range mod {
		m(&opts)
	}
	p, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// testLog sends terraform's output to the test log (shown with -v or on
// failure).
type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// stateResources returns the addresses of the resources with instances in a
// state file.
func stateResources(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read state: %v", err)
	}
	var st struct {
		Resources []struct {
			Module    string `json:"module"`
			Type      string `json:"type"`
			Name      string `json:"name"`
			Instances []any  `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("parse state %s: %v", path, err)
	}
	var out []string
	for _, r := range st.Resources {
		if len(r.Instances) == 0 {
			continue // declared but never created, e.g. after a failed apply
		}
		addr := r.Type + "." + r.Name
		if r.Module != "" {
			addr = r.Module + "." + addr
		}
		out = append(out, addr)
	}
	return out
}
