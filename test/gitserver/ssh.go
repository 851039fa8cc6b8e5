package gitserver

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHServer is an in-process SSH server that serves the repositories under a
// base directory by running git upload-pack for "git-upload-pack '<path>'"
// exec requests. It accepts only the authorized public key.
type SSHServer struct {
	// URL is the base URL, e.g. "ssh://git@127.0.0.1:41234"; baseDir/org/repo
	// is at URL+"/org/repo".
	URL string
	// Addr is the listen address, "127.0.0.1:port".
	Addr string
	// HostKey is the server's public host key.
	HostKey ssh.PublicKey
	// KnownHostsLine is a known_hosts line that trusts HostKey for Addr.
	KnownHostsLine string
}

// NewSSH starts an SSH server on 127.0.0.1 with a fresh ed25519 host key,
// accepting only the given public key, serving the repositories under baseDir
// read-only. It stops when the test ends.
func NewSSH(t testing.TB, baseDir string, authorized ssh.PublicKey) *SSHServer {
	t.Helper()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	want := authorized.Marshal()
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(key.Marshal(), want) {
				return &ssh.Permissions{}, nil
			}
			return nil, errors.New("public key not authorized")
		},
	}
	cfg.AddHostKey(signer)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = l.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveSSHConn(conn, cfg, baseDir)
			}()
		}
	}()
	addr := l.Addr().String()
	return &SSHServer{
		URL:            "ssh://git@" + addr,
		Addr:           addr,
		HostKey:        signer.PublicKey(),
		KnownHostsLine: knownhosts.Line([]string{knownhosts.Normalize(addr)}, signer.PublicKey()),
	}
}

func serveSSHConn(conn net.Conn, cfg *ssh.ServerConfig, baseDir string) {
	defer conn.Close()
	sc, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return // failed handshake: wrong key, unknown host key on the client, ...
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			return
		}
		go serveSession(ch, chReqs, baseDir)
	}
}

func serveSession(ch ssh.Channel, reqs <-chan *ssh.Request, baseDir string) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			// env, pty-req, ...: not needed by git clients.
			_ = req.Reply(false, nil)
			continue
		}
		var payload struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
			_ = req.Reply(false, nil)
			return
		}
		_ = req.Reply(true, nil)
		status := runGitCommand(ch, payload.Command, baseDir)
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], status)
		_, _ = ch.SendRequest("exit-status", false, b[:])
		return
	}
}

func runGitCommand(ch ssh.Channel, command, baseDir string) uint32 {
	service, repo, err := parseGitCommand(command, baseDir)
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "gitserver: %v\n", err)
		return 1
	}
	cmd := exec.Command("git", service, repo)
	cmd.Env = Env()
	cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
	// Copy stdin ourselves: with cmd.Stdin = ch, Wait would block until the
	// client sends EOF, which it does not do after a failed upload-pack.
	stdin, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "gitserver: %v\n", err)
		return 1
	}
	go func() {
		_, _ = io.Copy(stdin, ch)
		_ = stdin.Close()
	}()
	if err := cmd.Wait(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return uint32(ee.ExitCode())
		}
		fmt.Fprintf(ch.Stderr(), "gitserver: %v\n", err)
		return 1
	}
	return 0
}

// parseGitCommand maps "git-upload-pack '/org/repo'" to ("upload-pack",
// baseDir/org/repo). Only upload-pack (fetch) is served.
func parseGitCommand(command, baseDir string) (service, repo string, err error) {
	arg, ok := strings.CutPrefix(command, "git-upload-pack ")
	if !ok {
		if arg, ok = strings.CutPrefix(command, "git upload-pack "); !ok {
			return "", "", fmt.Errorf("command not allowed: %q", command)
		}
	}
	arg = strings.Trim(strings.TrimSpace(arg), "'\"")
	rel := filepath.Clean("/" + arg) // rooted: ".." cannot climb above baseDir
	return "upload-pack", filepath.Join(baseDir, rel), nil
}
