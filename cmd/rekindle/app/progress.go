package app

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/rekindle-dev/rekindle/bootstrap"
)

// progress prints pipeline events on stderr: one line per finished step with
// its duration and, for a cluster's own steps, the cluster's name; on a
// terminal, one live status line per cluster (and one for the environment's
// shared steps) while steps run. With --output json, one JSON object per
// event, the cluster named in each.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	json  bool
	quiet bool
	tty   bool
	// active are the running steps by cluster ("" for shared steps).
	active map[string]activeStep
	// drawn is how many live lines are on the screen.
	drawn int
	stop  chan struct{}
	done  chan struct{}
	frame int
}

type activeStep struct {
	step  string
	since time.Time
}

func newProgress(g *globals) *progress {
	p := &progress{w: g.streams.Err, json: g.output == "json", quiet: g.quiet, active: map[string]activeStep{}}
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
	who := ""
	if e.Cluster != "" {
		who = "[" + e.Cluster + "] "
	}
	switch e.Status {
	case bootstrap.StatusStarted:
		p.active[e.Cluster] = activeStep{step: e.Step, since: e.Time}
		if p.tty {
			p.startSpinner()
		}
		return
	case bootstrap.StatusInfo:
		dur := ""
		if e.Duration > 0 {
			dur = fmt.Sprintf(" (%s)", round(e.Duration))
		}
		p.printLine(fmt.Sprintf("    %s%s%s", who, e.Detail, dur))
		return
	}
	if a, ok := p.active[e.Cluster]; ok && a.step == e.Step {
		delete(p.active, e.Cluster)
	}
	mark := map[string]string{bootstrap.StatusDone: "✓", bootstrap.StatusSkipped: "-", bootstrap.StatusFailed: "✗"}[e.Status]
	p.printLine(fmt.Sprintf("%s %-9s %8s  %s%s", mark, e.Step, round(e.Duration), who, e.Detail))
	if len(p.active) == 0 {
		p.stopSpinner()
	}
}

// printLine prints a finished line above the live block.
func (p *progress) printLine(s string) {
	p.clearBlock()
	fmt.Fprintln(p.w, s)
	p.drawBlock()
}

// clearBlock erases the live lines (terminal only).
func (p *progress) clearBlock() {
	if !p.tty || p.drawn == 0 {
		return
	}
	fmt.Fprint(p.w, "\r\033[K")
	for i := 1; i < p.drawn; i++ {
		fmt.Fprint(p.w, "\033[1A\r\033[K")
	}
	p.drawn = 0
}

// drawBlock draws one live line per running step: the shared step first,
// then the clusters by name (terminal only).
func (p *progress) drawBlock() {
	if !p.tty || p.stop == nil || len(p.active) == 0 {
		return
	}
	keys := make([]string, 0, len(p.active))
	for k := range p.active {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	frames := []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
	lines := make([]string, len(keys))
	for i, k := range keys {
		a := p.active[k]
		who := ""
		if k != "" {
			who = "[" + k + "]"
		}
		lines[i] = fmt.Sprintf("%c %-9s %8s  %s", frames[p.frame%len(frames)], a.step, round(time.Since(a.since)), who)
	}
	fmt.Fprint(p.w, strings.Join(lines, "\n"))
	p.drawn = len(lines)
}

func (p *progress) startSpinner() {
	if p.stop != nil {
		return
	}
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func(stop, done chan struct{}) {
		defer close(done)
		t := time.NewTicker(120 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				p.mu.Lock()
				p.frame++
				p.clearBlock()
				p.drawBlock()
				p.mu.Unlock()
			}
		}
	}(p.stop, p.done)
}

// stopSpinner ends the live block; p.mu is held.
func (p *progress) stopSpinner() {
	if p.stop == nil {
		return
	}
	close(p.stop)
	p.mu.Unlock()
	<-p.done
	p.mu.Lock()
	p.stop = nil
	p.clearBlock()
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
