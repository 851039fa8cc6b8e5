package app

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/rekindle-dev/rekindle/bootstrap"
)

// progress prints pipeline events on stderr: one line per finished step with
// its duration (and a spinner on a terminal while a step runs), or one JSON
// object per event with --output json.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	json    bool
	quiet   bool
	tty     bool
	current string
	since   time.Time
	stop    chan struct{}
	done    chan struct{}
}

func newProgress(g *globals) *progress {
	p := &progress{w: g.streams.Err, json: g.output == "json", quiet: g.quiet}
	if f, ok := g.streams.Err.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !p.json {
		p.tty = true
	}
	return p
}

// observe is a bootstrap.Observer.
func (p *progress) observe(e bootstrap.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		writeJSON(p.w, map[string]any{"event": "step", "time": e.Time.UTC().Format(time.RFC3339Nano), "step": e.Step, "status": e.Status,
			"durationSeconds": e.Duration.Seconds(), "cluster": e.Cluster, "detail": e.Detail})
		return
	}
	if p.quiet && e.Status != bootstrap.StatusFailed {
		return
	}
	p.clearLine()
	switch e.Status {
	case bootstrap.StatusStarted:
		p.current, p.since = e.Step, e.Time
		if p.tty {
			p.startSpinner()
		}
		return
	case bootstrap.StatusInfo:
		who := ""
		if e.Cluster != "" {
			who = "[" + e.Cluster + "] "
		}
		dur := ""
		if e.Duration > 0 {
			dur = fmt.Sprintf(" (%s)", round(e.Duration))
		}
		fmt.Fprintf(p.w, "    %s%s%s\n", who, e.Detail, dur)
		return
	}
	p.stopSpinner()
	mark := map[string]string{bootstrap.StatusDone: "✓", bootstrap.StatusSkipped: "-", bootstrap.StatusFailed: "✗"}[e.Status]
	fmt.Fprintf(p.w, "%s %-9s %8s  %s\n", mark, e.Step, round(e.Duration), e.Detail)
	p.current = ""
}

func (p *progress) clearLine() {
	if p.tty && p.current != "" {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func (p *progress) startSpinner() {
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func(stop, done chan struct{}) {
		defer close(done)
		frames := []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
		t := time.NewTicker(120 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-t.C:
				p.mu.Lock()
				if p.current != "" {
					fmt.Fprintf(p.w, "\r\033[K%c %-9s %8s", frames[i%len(frames)], p.current, round(time.Since(p.since)))
				}
				p.mu.Unlock()
			}
		}
	}(p.stop, p.done)
}

func (p *progress) stopSpinner() {
	if p.stop != nil {
		close(p.stop)
		p.mu.Unlock()
		<-p.done
		p.mu.Lock()
		p.stop = nil
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	default:
		return d.Round(time.Millisecond)
	}
}
