package kind

import (
	"fmt"
	"io"
	"strings"
	"sync"

	kindlog "sigs.k8s.io/kind/pkg/log"
)

// logger writes kind's user-facing messages (V(0)) and warnings to w, one per line.
type logger struct {
	mu sync.Mutex
	w  io.Writer
}

func newLogger(w io.Writer) *logger { return &logger{w: w} }

func (l *logger) line(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, strings.TrimRight(s, "\n"))
}

func (l *logger) Warn(m string)                     { l.line("WARNING: " + m) }
func (l *logger) Warnf(f string, a ...interface{})  { l.Warn(fmt.Sprintf(f, a...)) }
func (l *logger) Error(m string)                    { l.line("ERROR: " + m) }
func (l *logger) Errorf(f string, a ...interface{}) { l.Error(fmt.Sprintf(f, a...)) }

func (l *logger) V(level kindlog.Level) kindlog.InfoLogger {
	return infoLogger{l: l, enabled: level <= 0}
}

type infoLogger struct {
	l       *logger
	enabled bool
}

func (i infoLogger) Info(m string) {
	if i.enabled {
		i.l.line(m)
	}
}

func (i infoLogger) Infof(f string, a ...interface{}) {
	if i.enabled {
		i.l.line(fmt.Sprintf(f, a...))
	}
}

func (i infoLogger) Enabled() bool { return i.enabled }
