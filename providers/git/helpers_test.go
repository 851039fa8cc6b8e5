package git

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rekindle-dev/rekindle/test/gitserver"
)

// writeSSHKey writes a new ed25519 private key (OpenSSH format, encrypted
// when passphrase is set) to dir/id_ed25519 and its public key to
// dir/id_ed25519.pub, and returns the private key's path.
func writeSSHKey(t *testing.T, dir, passphrase string) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p+".pub", ssh.MarshalAuthorizedKey(pub), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readPublicKey(t *testing.T, privPath string) ssh.PublicKey {
	t.Helper()
	pub, _, _, _, err := ssh.ParseAuthorizedKey(mustRead(t, privPath+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// blueprint is an upstream repository at base/org/blueprint with:
//
//	c1 (main): README.md=v1, deploy/app.yaml, old.txt, run.sh (executable), link -> README.md
//	           annotated tag v1.0, lightweight tag light
//	dev:       c1 + dev.txt
//	c2 (main): README.md=v2, old.txt deleted
type blueprint struct {
	base, dir   string
	c1, dev, c2 string
}

func newBlueprint(t *testing.T) *blueprint {
	t.Helper()
	base := t.TempDir()
	b := &blueprint{base: base, dir: filepath.Join(base, "org", "blueprint")}
	gitserver.InitRepo(t, b.dir)
	gitserver.WriteFile(t, b.dir, "README.md", "v1\n")
	gitserver.WriteFile(t, b.dir, "deploy/app.yaml", "kind: ConfigMap\n")
	gitserver.WriteFile(t, b.dir, "old.txt", "deleted in c2\n")
	gitserver.WriteFile(t, b.dir, "run.sh", "#!/bin/sh\necho hi\n")
	if err := os.Chmod(filepath.Join(b.dir, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("README.md", filepath.Join(b.dir, "link")); err != nil {
		t.Fatal(err)
	}
	b.c1 = gitserver.Commit(t, b.dir, "c1")
	gitserver.Git(t, b.dir, "tag", "-a", "v1.0", "-m", "release v1.0")
	gitserver.Git(t, b.dir, "tag", "light")
	gitserver.Git(t, b.dir, "checkout", "--quiet", "-b", "dev")
	gitserver.WriteFile(t, b.dir, "dev.txt", "dev\n")
	b.dev = gitserver.Commit(t, b.dir, "dev")
	gitserver.Git(t, b.dir, "checkout", "--quiet", "main")
	gitserver.WriteFile(t, b.dir, "README.md", "v2\n")
	if err := os.Remove(filepath.Join(b.dir, "old.txt")); err != nil {
		t.Fatal(err)
	}
	b.c2 = gitserver.Commit(t, b.dir, "c2")
	return b
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	return string(mustRead(t, filepath.Join(dir, filepath.FromSlash(name))))
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
