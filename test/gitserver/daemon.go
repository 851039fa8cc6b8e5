package gitserver

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// NewDaemon serves every repository under baseDir over git:// with
// `git daemon --export-all` on 127.0.0.1 and returns the base URL, e.g.
// "git://127.0.0.1:41234"; baseDir/org/repo is at base+"/org/repo". The daemon
// is killed when the test ends.
func NewDaemon(t testing.TB, baseDir string) string {
	t.Helper()
	return NewDaemonOn(t, baseDir, "127.0.0.1")
}

// NewDaemonOn is NewDaemon listening on host (an address of this machine),
// e.g. a container bridge's gateway, which containers and pods reach.
func NewDaemonOn(t testing.TB, baseDir, host string) string {
	t.Helper()
	var lastErr error
	for range 5 { // the free port can be taken between probing and binding: retry
		port, err := freePort(host)
		if err != nil {
			t.Fatal(err)
		}
		url, err := startDaemon(t, baseDir, host, port)
		if err == nil {
			return url
		}
		lastErr = err
	}
	t.Fatalf("start git daemon: %v", lastErr)
	return ""
}

func startDaemon(t testing.TB, baseDir, host string, port int) (string, error) {
	var stderr bytes.Buffer
	// Run git-daemon itself: `git daemon` would fork it as a child that
	// survives killing git.
	cmd := exec.Command(filepath.Join(ExecPath(t), "git-daemon"),
		"--export-all", "--reuseaddr", "--informative-errors",
		"--base-path="+baseDir,
		"--listen="+host, "--port="+strconv.Itoa(port),
		baseDir)
	cmd.Env = Env()
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second // a connection child may still hold stderr
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			return "", fmt.Errorf("git daemon exited: %v: %s", err, stderr.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			killProcessGroup(cmd)
			<-exited
			return "", fmt.Errorf("git daemon not listening on %s after 10s: %s", addr, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() {
		killProcessGroup(cmd)
		<-exited
	})
	return "git://" + addr, nil
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
