package git

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

func TestAuthFromEnv(t *testing.T) {
	t.Setenv(EnvToken, "t0k3n")
	t.Setenv(EnvUsername, "bot")
	t.Setenv(EnvPassword, "p4ss")
	t.Setenv(EnvSSHKey, "/keys/id")
	t.Setenv(EnvSSHKeyPassphrase, "phrase")
	t.Setenv(EnvKnownHosts, "/kh")
	want := Auth{Token: "t0k3n", Username: "bot", Password: "p4ss", SSHKeyFile: "/keys/id", SSHKeyPassphrase: "phrase", KnownHostsFile: "/kh"}
	if got := AuthFromEnv(); got != want {
		t.Errorf("AuthFromEnv() = %#v, want %#v", got, want)
	}
	if s := want.String(); strings.Contains(s, "t0k3n") || strings.Contains(s, "p4ss") || strings.Contains(s, "phrase") {
		t.Errorf("Auth.String() leaks a secret: %q", s)
	}
}

func TestHTTPMethod(t *testing.T) {
	tests := []struct {
		name     string
		auth     Auth
		url      string
		wantUser string
		wantPass string
	}{
		{"none", Auth{}, "https://h/o/r", "", ""},
		{"token", Auth{Token: "t"}, "https://h/o/r", "git", "t"},
		{"token with username", Auth{Token: "t", Username: "bot"}, "https://h/o/r", "bot", "t"},
		{"token with URL user", Auth{Token: "t"}, "https://x-access-token@h/o/r", "x-access-token", "t"},
		{"basic", Auth{Username: "u", Password: "p"}, "https://h/o/r", "u", "p"},
		{"URL userinfo", Auth{}, "https://u:p@h/o/r", "u", "p"},
		{"token beats URL password", Auth{Token: "t"}, "https://u:p@h/o/r", "u", "t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseRemote(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			m, err := tt.auth.method(r)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantUser == "" && tt.wantPass == "" {
				if m != nil {
					t.Fatalf("method = %v, want none", m)
				}
				return
			}
			b, ok := m.(*githttp.BasicAuth)
			if !ok {
				t.Fatalf("method = %T, want *http.BasicAuth", m)
			}
			if b.Username != tt.wantUser || b.Password != tt.wantPass {
				t.Errorf("basic auth = %q/%q, want %q/%q", b.Username, b.Password, tt.wantUser, tt.wantPass)
			}
		})
	}
}

func TestSSHMethodWiring(t *testing.T) {
	dir := t.TempDir()
	key := writeSSHKey(t, dir, "")
	srvKey := writeSSHKey(t, t.TempDir(), "")
	knownHosts := filepath.Join(dir, "known_hosts")
	line := "[127.0.0.1]:2222 " + strings.TrimSpace(string(mustRead(t, srvKey+".pub")))
	if err := os.WriteFile(knownHosts, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := parseRemote("ssh://deploy@127.0.0.1:2222/org/repo")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("key file and known_hosts", func(t *testing.T) {
		m, err := Auth{SSHKeyFile: key, KnownHostsFile: knownHosts}.method(r)
		if err != nil {
			t.Fatal(err)
		}
		pk, ok := m.(*gitssh.PublicKeys)
		if !ok {
			t.Fatalf("method = %T, want *ssh.PublicKeys", m)
		}
		if pk.User != "deploy" {
			t.Errorf("user = %q, want deploy (from the URL)", pk.User)
		}
		if pk.HostKeyCallback == nil {
			t.Fatal("no host key callback: host keys would not be verified")
		}
		if len(pk.HostKeyAlgorithms) == 0 || !strings.Contains(strings.Join(pk.HostKeyAlgorithms, ","), "ed25519") {
			t.Errorf("host key algorithms = %v, want the ed25519 ones known_hosts has for the host", pk.HostKeyAlgorithms)
		}
	})
	t.Run("no known_hosts file", func(t *testing.T) {
		_, err := Auth{SSHKeyFile: key, KnownHostsFile: filepath.Join(dir, "missing")}.method(r)
		if !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), EnvKnownHosts) {
			t.Errorf("err = %v, want ErrHostKey naming %s", err, EnvKnownHosts)
		}
	})
	t.Run("default known_hosts under HOME", func(t *testing.T) {
		home := t.TempDir()
		t.Setenv("HOME", home)
		_, err := Auth{SSHKeyFile: key}.method(r)
		if !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), filepath.Join(home, ".ssh", "known_hosts")) {
			if _, statErr := os.Stat("/etc/ssh/ssh_known_hosts"); statErr == nil {
				t.Skip("/etc/ssh/ssh_known_hosts exists on this machine")
			}
			t.Errorf("err = %v, want ErrHostKey naming ~/.ssh/known_hosts", err)
		}
	})
	t.Run("no key and no agent", func(t *testing.T) {
		t.Setenv("SSH_AUTH_SOCK", "")
		_, err := Auth{KnownHostsFile: knownHosts}.method(r)
		if !errors.Is(err, ErrAuthRequired) || !strings.Contains(err.Error(), EnvSSHKey) {
			t.Errorf("err = %v, want ErrAuthRequired naming %s", err, EnvSSHKey)
		}
	})
	t.Run("encrypted key without passphrase", func(t *testing.T) {
		enc := writeSSHKey(t, t.TempDir(), "correct horse")
		_, err := Auth{SSHKeyFile: enc, KnownHostsFile: knownHosts}.method(r)
		if err == nil || !strings.Contains(err.Error(), EnvSSHKeyPassphrase) {
			t.Errorf("err = %v, want a hint to set %s", err, EnvSSHKeyPassphrase)
		}
		if _, err := (Auth{SSHKeyFile: enc, SSHKeyPassphrase: "correct horse", KnownHostsFile: knownHosts}).method(r); err != nil {
			t.Errorf("with passphrase: %v", err)
		}
		_, err = Auth{SSHKeyFile: enc, SSHKeyPassphrase: "wrong battery", KnownHostsFile: knownHosts}.method(r)
		if err == nil || strings.Contains(err.Error(), "wrong battery") {
			t.Errorf("wrong passphrase: err = %v, want an error without the passphrase", err)
		}
	})
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
