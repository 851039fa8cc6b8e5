package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInput: each failure ends with the right exit code and one clear
// ERROR line naming what failed, and a checkpoint left by an earlier step is
// still intact afterwards.
func TestBadInput(t *testing.T) {
	needParts(t)
	closed := closedPort(t)
	broken := brokenCopy(t, func(dir string) {
		// A Terraform syntax error: the run must stop at infra.
		writeFile(t, filepath.Join(dir, "infra", "dev", "main.tf"), "resource \"terraform_data\" \"x\" {\n  input = \n}\n")
	})
	capi := brokenCopy(t, func(dir string) {
		writeFile(t, filepath.Join(dir, "rekindle.yaml"), strings.Replace(readFile(t, filepath.Join(dir, "rekindle.yaml")), "provider: kwok\n          kwok:\n            nodes: 1", "provider: capi\n          capi: {management: \"{{ .Infra.Outputs.apps_cluster }}\", manifests: workloads/edge}", 1))
	})
	cases := []struct {
		name      string
		args      []string
		wantCode  int
		wantError string
		// wantDone are steps the checkpoint must still record after the failure.
		wantDone []string
	}{
		{"unreachable Git URL", []string{"-b", fmt.Sprintf("http://127.0.0.1:%d/org/fleet.git", closed), "--env", "dev"}, 1, fmt.Sprintf(`fetch "http://127.0.0.1:%d/org/fleet.git"`, closed), nil},
		{"unknown environment", []string{"-b", example, "--env", "prod"}, 2, `environment "prod" not found`, nil},
		{"terraform error", []string{"-b", broken, "--env", "dev"}, 1, "infra: terraform init in infra/dev: Error: Invalid expression", []string{"validate"}},
		{"provider error", []string{"-b", capi, "--env", "dev"}, 1, `does not serve Cluster API's Cluster kind`, []string{"validate", "infra"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			state := t.TempDir()
			cleanupEnv(t, state, nil, tc.args...)
			res := rk(t, state, nil, append([]string{"bootstrap", "create"}, tc.args...)...)
			if res.code != tc.wantCode {
				t.Errorf("exit %d, want %d", res.code, tc.wantCode)
			}
			var errLines []string
			for _, l := range strings.Split(res.stderr, "\n") {
				if strings.HasPrefix(l, "ERROR: ") {
					errLines = append(errLines, l)
				}
			}
			if len(errLines) != 1 || !strings.Contains(errLines[0], tc.wantError) {
				t.Errorf("want one ERROR line containing %q, got %q", tc.wantError, errLines)
			}
			if tc.wantDone == nil {
				return
			}
			cp := readCheckpoint(t, state)
			for _, s := range tc.wantDone {
				if _, ok := cp.Steps[s]; !ok {
					t.Errorf("checkpoint lost step %q: %v", s, cp.Steps)
				}
			}
			// The same failure again must leave the checkpoint readable and unchanged in substance.
			if again := rk(t, state, nil, append([]string{"bootstrap", "create"}, tc.args...)...); again.code != tc.wantCode {
				t.Errorf("second run: exit %d, want %d", again.code, tc.wantCode)
			}
			if cp2 := readCheckpoint(t, state); len(cp2.Steps) != len(cp.Steps) {
				t.Errorf("checkpoint steps changed across identical failures: %v -> %v", cp.Steps, cp2.Steps)
			}
		})
	}
}

// TestCorruptCheckpointIsRefused: a truncated checkpoint is reported, never trusted.
func TestCorruptCheckpointIsRefused(t *testing.T) {
	needParts(t)
	state := t.TempDir()
	path := filepath.Join(state, "envs", "local", "dev", "checkpoint.json")
	writeFile(t, path, `{"version":1,"blueprint":"local","env":"dev","commit":"abc","steps":{"infra":{`)
	res := rk(t, state, nil, "bootstrap", "create", "-b", example, "--env", "dev")
	if res.code != 1 || !strings.Contains(res.stderr, "checkpoint is corrupt") || !strings.Contains(res.stderr, path) {
		t.Errorf("exit %d, want 1 with a corrupt-checkpoint error naming %s", res.code, path)
	}
	if got := readFile(t, path); !strings.HasSuffix(got, `"infra":{`) {
		t.Error("the corrupt checkpoint was overwritten; it must be left for the user to inspect")
	}
}

// TestSecondRunIsRefused: two runs on one environment at once: the second is refused.
func TestSecondRunIsRefused(t *testing.T) {
	needParts(t)
	state := t.TempDir()
	lock := filepath.Join(state, "envs", "local", "dev", "lock")
	writeFile(t, lock, "")
	f, err := os.OpenFile(lock, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := flock(f); err != nil {
		t.Fatal(err)
	}
	res := rk(t, state, nil, "bootstrap", "create", "-b", example, "--env", "dev")
	if res.code != 1 || !strings.Contains(res.stderr, "another rekindle run is working on this environment") {
		t.Errorf("exit %d, want 1 and a lock message", res.code)
	}
}

type checkpoint struct {
	Steps map[string]json.RawMessage `json:"steps"`
}

func readCheckpoint(t *testing.T, state string) checkpoint {
	t.Helper()
	var cp checkpoint
	data := readFile(t, filepath.Join(state, "envs", "local", "dev", "checkpoint.json"))
	if err := json.Unmarshal([]byte(data), &cp); err != nil {
		t.Fatalf("checkpoint unreadable: %v", err)
	}
	return cp
}

// brokenCopy copies the example and lets edit break it.
func brokenCopy(t *testing.T, edit func(dir string)) string {
	t.Helper()
	dir, _ := blueprintRepo(t, t.TempDir(), "broken", example)
	edit(dir)
	return dir
}

func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
