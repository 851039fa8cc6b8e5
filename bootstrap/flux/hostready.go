package flux

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/rekindle-dev/rekindle/bootstrap/proc"
)

const (
	// startTimeout bounds how long a host controller may take to answer
	// its /readyz after it was started (about a second when idle).
	startTimeout = 90 * time.Second
	// startAttempts is how often a controller is started on fresh ports
	// when one it was given was taken before it could bind it.
	startAttempts = 3
)

// errPortTaken: a controller exited because an address it was given to
// listen on was in use (another process took the free port picked for it).
var errPortTaken = errors.New("address already in use")

// launch is one start of one controller.
type launch struct {
	pid     int
	health  string // host:port of its /healthz and /readyz
	logFrom int64  // its log's size before this start
}

// waitReady waits until the controller answers 200 on /readyz. If it exits
// first, the error names the last error its log holds from this start.
func (h HostControllers) waitReady(ctx context.Context, c string, l launch, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	url := "http://" + l.health + "/readyz"
	for {
		if proc.Exited(l.pid) {
			os.Remove(h.file(c, ".pid"))
			why := lastLogError(h.file(c, ".log"), l.logFrom)
			if strings.Contains(why, errPortTaken.Error()) {
				return fmt.Errorf("%s exited at start: %s: %w", c, why, errPortTaken)
			}
			return fmt.Errorf("%s exited at start: %s (log %s)", c, why, h.file(c, ".log"))
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("%s (pid %d) did not answer %s within %s (log %s)", c, l.pid, url, timeout, h.file(c, ".log"))
			}
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func logSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// lastLogError is the last error-level entry a controller's JSON log holds
// after offset from, as "msg: error", else its last line.
func lastLogError(path string, from int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "no log"
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return "no log"
	}
	var last, lastErr string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		last = string(line)
		var e struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Error string `json:"error"`
		}
		if json.Unmarshal(line, &e) == nil && e.Level == "error" {
			lastErr = e.Msg
			if e.Error != "" {
				lastErr += ": " + e.Error
			}
		}
	}
	switch {
	case lastErr != "":
		return lastErr
	case last != "":
		return last
	}
	return "nothing in its log"
}
