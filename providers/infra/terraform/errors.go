package terraform

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// maxDiagLines bounds the diagnostic shown in Error(); the full stderr stays
// in Error.Stderr.
const maxDiagLines = 12

// Error is a failed terraform command.
type Error struct {
	Op     string // terraform subcommand: init, plan, apply, output, destroy, ...
	Dir    string // the module, as named in the blueprint (e.g. infra/dev)
	Diag   string // the first lines of terraform's error diagnostics
	Stderr string // everything terraform wrote to stderr
	Err    error  // the error from terraform-exec
}

func (e *Error) Error() string {
	return fmt.Sprintf("terraform %s in %s: %s", e.Op, e.Dir, e.Diag)
}

func (e *Error) Unwrap() error { return e.Err }

// wrap turns an error from terraform-exec into an *Error whose message is
// terraform's own diagnostic rather than "exit status 1".
// ctx is the caller's context: terraform-exec's own error matches both
// context.Canceled and context.DeadlineExceeded, so the cause is read there.
func (p *provisioner) wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Dir: p.label, Err: err}
	// terraform-exec formats a failed command as "<exit error>\n<stderr>".
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		e.Stderr = msg[i+1:]
	}
	switch {
	case ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		e.Diag = fmt.Sprintf("interrupted (%v); the state keeps what terraform finished, run again to continue", ctx.Err())
	default:
		e.Diag = diagnostic(e.Stderr)
		if e.Diag == "" {
			e.Diag = strings.TrimSpace(msg)
		}
	}
	return e
}

// diagnostic extracts the "Error: ..." blocks from terraform's stderr
// (printed with -no-color), drops warnings and init's generic preamble, and
// keeps the first maxDiagLines lines.
func diagnostic(stderr string) string {
	var blocks [][]string
	var cur []string
	flush := func() {
		for len(cur) > 0 && strings.TrimSpace(cur[len(cur)-1]) == "" {
			cur = cur[:len(cur)-1]
		}
		if len(cur) > 0 {
			blocks = append(blocks, cur)
		}
		cur = nil
	}
	in := false
	for _, line := range strings.Split(stderr, "\n") {
		line = strings.TrimRight(line, " \r")
		// Boxed diagnostics ("│ Error: ...") appear when terraform ignores
		// -no-color, e.g. for CLI configuration problems.
		for _, box := range []string{"╷", "│", "╵"} {
			if rest, ok := strings.CutPrefix(line, box); ok {
				line = strings.TrimPrefix(rest, " ")
				break
			}
		}
		switch {
		case strings.HasPrefix(line, "Error: "):
			flush()
			in = true
			cur = []string{line}
		case strings.HasPrefix(line, "Warning: "):
			flush()
			in = false
		case in:
			cur = append(cur, line)
		}
	}
	flush()
	if len(blocks) > 1 && strings.HasPrefix(blocks[0][0], "Error: Terraform encountered problems during initialisation") {
		blocks = blocks[1:]
	}
	var lines []string
	for i, b := range blocks {
		if i > 0 {
			lines = append(lines, "")
		}
		lines = append(lines, b...)
	}
	if len(lines) > maxDiagLines {
		more := len(lines) - maxDiagLines
		lines = append(lines[:maxDiagLines], fmt.Sprintf("... (%d more lines)", more))
	}
	return strings.Join(lines, "\n")
}
