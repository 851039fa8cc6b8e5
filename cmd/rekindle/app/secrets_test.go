package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

func genKey(t *testing.T, dir, name string) (*age.X25519Identity, string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	writeFile(t, p, "# public key: "+id.Recipient().String()+"\n"+id.String()+"\n")
	return id, p
}

// TestSecretsEncryptCheckRender: encrypt a Secret with the command, check it
// with the right and a wrong key, and render it: values stay <redacted>
// unless --show-secrets, and the key shows nowhere.
func TestSecretsEncryptCheckRender(t *testing.T) {
	dir := t.TempDir()
	keys := t.TempDir()
	id, keyFile := genKey(t, keys, "key.txt")
	wrong, wrongFile := genKey(t, keys, "wrong.txt")
	t.Setenv("SOPS_AGE_KEY", "")
	os.Unsetenv("SOPS_AGE_KEY")
	t.Setenv("SOPS_AGE_KEY_FILE", "")
	os.Unsetenv("SOPS_AGE_KEY_FILE")
	writeFile(t, filepath.Join(dir, "rekindle.yaml"), "apiVersion: rekindle.dev/v1alpha1\nkind: Blueprint\nmetadata: {name: t}\nspec:\n  environments:\n  - name: dev\n    clusters:\n    - name: a\n      provider: kwok\n      workloads:\n      - {name: apps, path: apps, namespace: team}\n")
	secret := filepath.Join(dir, "apps", "secret.yaml")
	writeFile(t, secret, "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  password: cmd-secret-value\n")
	writeFile(t, filepath.Join(dir, "apps", "ns.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n")

	if code, _, stderr := run(t, "secrets", "encrypt", secret, "--in-place"); code != 2 || !strings.Contains(stderr, "no recipients") {
		t.Errorf("no recipients: exit %d %s", code, stderr)
	}
	if code, _, stderr := run(t, "secrets", "encrypt", filepath.Join(dir, "apps", "ns.yaml"), "--age", id.Recipient().String()); code != 2 || !strings.Contains(stderr, "nothing would be encrypted") {
		t.Errorf("a file without Secret data: exit %d %s", code, stderr)
	}
	code, stdout, stderr := run(t, "secrets", "encrypt", secret, "--age", id.Recipient().String(), "--in-place")
	if code != 0 || stdout != "" {
		t.Fatalf("encrypt: exit %d\n%s%s", code, stdout, stderr)
	}
	enc, _ := os.ReadFile(secret)
	if strings.Contains(string(enc), "cmd-secret-value") || !strings.Contains(string(enc), "name: db") {
		t.Fatalf("encrypted file:\n%s", enc)
	}
	if code, _, stderr := run(t, "secrets", "encrypt", secret, "--age", id.Recipient().String()); code != 2 || !strings.Contains(stderr, "already encrypted") {
		t.Errorf("encrypt twice: exit %d %s", code, stderr)
	}

	t.Setenv("SOPS_AGE_KEY_FILE", wrongFile)
	code, stdout, stderr = run(t, "secrets", "check", "-b", dir)
	if code != 1 || !strings.Contains(stdout, "apps/secret.yaml") || !strings.Contains(stdout, id.Recipient().String()) || !strings.Contains(stderr, wrong.Recipient().String()) {
		t.Errorf("check with the wrong key: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := run(t, "blueprint", "render", "-b", dir); code != 2 || !strings.Contains(stderr, "apps/secret.yaml") {
		t.Errorf("render with the wrong key: exit %d %s", code, stderr)
	}

	t.Setenv("SOPS_AGE_KEY_FILE", keyFile)
	var all strings.Builder
	for _, args := range [][]string{
		{"secrets", "check", "-b", dir},
		{"-o", "json", "secrets", "check", "-b", dir},
		{"blueprint", "render", "-b", dir},
		{"-o", "json", "-v", "9", "blueprint", "render", "-b", dir},
		{"blueprint", "validate", "-b", dir},
		{"blueprint", "plan", "-b", dir},
	} {
		code, stdout, stderr := run(t, args...)
		if code != 0 {
			t.Errorf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
		all.WriteString(stdout + stderr)
	}
	if s := all.String(); strings.Contains(s, "cmd-secret-value") || strings.Contains(s, "AGE-SECRET-KEY") || !strings.Contains(s, "<redacted>") {
		t.Errorf("a secret value or the key was printed, or nothing was redacted:\n%s", s)
	}
	if _, stdout, _ := run(t, "blueprint", "render", "-b", dir, "--show-secrets"); !strings.Contains(stdout, "password: cmd-secret-value") {
		t.Errorf("--show-secrets:\n%s", stdout)
	}
}
