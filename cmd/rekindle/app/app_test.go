package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const example = "../../../blueprints/examples/local"

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	args = append([]string{"--state-dir", t.TempDir()}, args...)
	code = Run(context.Background(), Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, args)
	return code, out.String(), errb.String()
}

func TestExitCodesAndMessages(t *testing.T) {
	broken := filepath.Join("..", "..", "..", "blueprints", "testdata", "invalid", "many-problems")
	cases := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"version", []string{"version"}, 0, []string{"rekindle "}, nil},
		{"unknown flag", []string{"version", "--bogus"}, 2, nil, []string{"ERROR: unknown flag: --bogus", "--help"}},
		{"bad output format", []string{"-o", "yaml", "version"}, 2, nil, []string{"ERROR: --output must be text or json"}},
		{"unknown command", []string{"frobnicate"}, 2, nil, []string{"ERROR:"}},
		{"valid blueprint", []string{"blueprint", "validate", "-b", example}, 0, []string{`blueprint "local" is valid`, "15 object(s)"}, nil},
		{"broken blueprint names file, line and field of every problem", []string{"blueprint", "validate", "-b", broken}, 2, nil, []string{
			"ERROR: invalid blueprint: 6 problems",
			"many-problems/rekindle.yaml:1: apiVersion:",
			"many-problems/rekindle.yaml:10: spec.environments[0].infra.terraform.dir: path \"../outside\" leaves the repo",
			"many-problems/rekindle.yaml:21: spec.environments[0].clusters[0].workloads[1]: needs either path",
		}},
		{"namespace nothing creates names the objects", []string{"blueprint", "validate", "-b", filepath.Join(filepath.Dir(broken), "namespace-not-created")}, 2, nil, []string{
			`namespace-not-created/rekindle.yaml:15: spec.environments[0].clusters[0].workloads[0].createNamespace: namespace "legacy" does not exist`,
			"Secret/legacy/token, ConfigMap/legacy/settings",
		}},
		{"missing blueprint", []string{"blueprint", "validate", "-b", t.TempDir()}, 2, nil, []string{"rekindle.yaml: not found"}},
		{"unknown env", []string{"blueprint", "plan", "-b", example, "--env", "prod"}, 2, nil, []string{`ERROR: --env: environment "prod" not found`}},
		{"ref on a local dir", []string{"blueprint", "validate", "-b", example, "--ref", "main"}, 2, nil, []string{"needs a Git URL"}},
		{"missing --load-image archive", []string{"rehearse", "-b", example, "--env", "dev", "--load-image", "/nonexistent/hello.tar"}, 2, nil, []string{"ERROR: --load-image /nonexistent/hello.tar:", "no such file"}},
		{"--load-image of a directory", []string{"rehearse", "-b", example, "--env", "dev", "--load-image", t.TempDir()}, 2, nil, []string{"ERROR: --load-image", "not a file"}},
		{"plan table", []string{"blueprint", "plan", "-b", example}, 0, []string{"CLUSTER", "podinfo", "kustomize", "platform", "hello", "helm", "Deployment=1"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, stdout, stderr)
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestRenderOrderAndRedaction(t *testing.T) {
	code, stdout, stderr := run(t, "blueprint", "render", "-b", example, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	dec := json.NewDecoder(strings.NewReader(stdout))
	lists := 0
	for dec.More() {
		var list struct {
			Items []struct {
				Kind string `json:"kind"`
			} `json:"items"`
		}
		if err := dec.Decode(&list); err != nil {
			t.Fatal(err)
		}
		lists++
		phase := 0 // 0: CRDs, 1: Namespaces, 2: the rest
		for _, it := range list.Items {
			p := 2
			switch it.Kind {
			case "CustomResourceDefinition":
				p = 0
			case "Namespace":
				p = 1
			}
			if p < phase {
				t.Errorf("%s after a later group: order must be CRDs, Namespaces, rest", it.Kind)
			}
			phase = p
		}
	}
	if lists != 2 {
		t.Errorf("got %d clusters, want 2", lists)
	}
}

func TestRenderRedactsSecrets(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rekindle.yaml"), "apiVersion: rekindle.dev/v1alpha1\nkind: Blueprint\nmetadata: {name: s}\nspec:\n  environments:\n  - name: dev\n    clusters:\n    - name: a\n      provider: kwok\n      workloads:\n      - {name: apps, path: apps}\n")
	writeFile(t, filepath.Join(dir, "apps", "secret.yaml"), "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: hunter2-plaintext}\ndata: {token: c2VjcmV0LXRva2Vu}\n")
	code, stdout, stderr := run(t, "blueprint", "render", "-b", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout, "hunter2-plaintext") || strings.Contains(stdout, "c2VjcmV0LXRva2Vu") || !strings.Contains(stdout, "<redacted>") {
		t.Errorf("render must redact Secret values:\n%s", stdout)
	}
	code, stdout, _ = run(t, "blueprint", "render", "-b", dir, "--show-secrets")
	if code != 0 || !strings.Contains(stdout, "hunter2-plaintext") {
		t.Errorf("--show-secrets must show the values (exit %d):\n%s", code, stdout)
	}
}

// TestValidateUnfetchableChart: a remote chart that cannot be fetched
// (here: TLS that does not verify) stops validate with exit 2, naming the
// workload and the repository.
func TestValidateUnfetchableChart(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler()) // its certificate chains to no CA rekindle trusts
	defer srv.Close()
	dir := t.TempDir()
	bp := "apiVersion: rekindle.dev/v1alpha1\nkind: Blueprint\nmetadata: {name: r}\nspec:\n  environments:\n  - name: dev\n    clusters:\n    - name: a\n      provider: kwok\n      workloads:\n" +
		"      - name: ingress\n        helm: {repo: \"" + srv.URL + "/stable\", chart: ingress-nginx, version: \"~4.11\"}\n"
	if err := os.WriteFile(filepath.Join(dir, "rekindle.yaml"), []byte(bp), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "blueprint", "validate", "-b", dir)
	if code != 2 || !strings.Contains(stderr, `workload "ingress"`) || !strings.Contains(stderr, srv.URL+"/stable") {
		t.Errorf("exit %d, stderr %s; want exit 2 naming the workload and the repository", code, stderr)
	}
}
