package gitserver

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// NewHTTP serves every repository under baseDir over smart HTTP (git
// http-backend behind net/http/cgi) on 127.0.0.1 and returns the base URL,
// e.g. "http://127.0.0.1:41234"; the repository baseDir/org/repo is then at
// base+"/org/repo". When token is not empty every request must carry HTTP
// basic auth whose password is token (any username); others get 401. The
// server is read-only and stops when the test ends.
func NewHTTP(t testing.TB, baseDir, token string) string {
	t.Helper()
	return NewHTTPOn(t, baseDir, token, "127.0.0.1")
}

// NewHTTPOn is NewHTTP listening on host (an address of this machine),
// e.g. a container bridge's gateway, which containers and pods reach.
func NewHTTPOn(t testing.TB, baseDir, token, host string) string {
	t.Helper()
	backend := &cgi.Handler{
		Path: filepath.Join(ExecPath(t), "git-http-backend"),
		Dir:  baseDir,
		// git's complaints (e.g. "Not a git repository") go to the test log.
		Stderr: logWriter{t},
		Env: append(Env(),
			"GIT_PROJECT_ROOT="+baseDir,
			"GIT_HTTP_EXPORT_ALL=1",
		),
	}
	var h http.Handler = backend
	if token != "" {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, pass, ok := r.BasicAuth()
			if !ok || subtle.ConstantTimeCompare([]byte(pass), []byte(token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="gitserver"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
			backend.ServeHTTP(w, r)
		})
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("git over HTTP: listen on %s: %v", host, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// ExecPath returns `git --exec-path`, where git's helper programs
// (git-http-backend, git-upload-pack, git-daemon) live.
func ExecPath(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v (is git installed?)", err)
	}
	return strings.TrimSpace(string(out))
}

// logWriter writes to the test log.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Logf("git http-backend: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
