package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Health tracks the pass loop for the probes: /readyz answers 200 once the
// last pass ran (its objects may still have failed; the Sync status says
// which) and 503 while passes fail as a whole (Git, render, API server);
// /healthz answers 503 when one pass has run longer than StallAfter, which
// a liveness probe turns into a restart.
type Health struct {
	// StallAfter is how long one pass may run before the agent counts as
	// stuck. Default 30m.
	StallAfter time.Duration

	mu        sync.Mutex
	passStart time.Time
	lastErr   error
	passed    bool
}

// Start marks the start of a pass.
func (h *Health) Start(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.passStart = now
}

// Done marks the end of a pass.
func (h *Health) Done(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.passStart = time.Time{}
	h.lastErr = err
	h.passed = true
}

func (h *Health) live(now time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	stall := h.StallAfter
	if stall <= 0 {
		stall = 30 * time.Minute
	}
	if !h.passStart.IsZero() && now.Sub(h.passStart) > stall {
		return fmt.Errorf("a pass has been running for %s (more than %s)", now.Sub(h.passStart).Round(time.Second), stall)
	}
	return nil
}

func (h *Health) readyErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case !h.passed:
		return errors.New("the first pass has not finished")
	case h.lastErr != nil:
		return fmt.Errorf("the last pass failed: %s", truncate(h.lastErr.Error(), 512))
	}
	return nil
}

// Handler serves /metrics, /healthz and /readyz.
func Handler(m *Metrics, h *Health) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	probe := func(check func() error) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if err := check(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, err)
				return
			}
			fmt.Fprintln(w, "ok")
		}
	}
	mux.Handle("/healthz", probe(func() error { return h.live(time.Now()) }))
	mux.Handle("/readyz", probe(h.readyErr))
	return mux
}

// Serve listens on addr (host:port; port 0 picks a free one) and serves
// Handler until ctx is done. The URL it listens on is passed to listening,
// and written to addrFile when set (a host-process agent's, so that
// `rekindle status` can say where its metrics are); the file is removed on
// return.
func Serve(ctx context.Context, addr, addrFile string, handler http.Handler, listening func(url string)) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for metrics on %q: %w", addr, err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	url := "http://" + net.JoinHostPort(host, port)
	if addrFile != "" {
		if err := writeFileAtomic(addrFile, []byte(url+"\n")); err != nil {
			ln.Close()
			return err
		}
		defer os.Remove(addrFile)
	}
	if listening != nil {
		listening(url)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve metrics: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %q: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	return nil
}
