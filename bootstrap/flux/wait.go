package flux

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

// WaitOptions say what Wait waits for.
type WaitOptions struct {
	// Source and Root are gotk-sync's GitRepository and Kustomization.
	Source, Root types.NamespacedName
	// Commit is the revision every source and Kustomization must reach.
	Commit string
	// Poll is the time between reads (default 500ms).
	Poll time.Duration
	// TerminalGrace is how long a failure Flux retries but that cannot
	// heal by waiting (see terminalReasons) may last before Wait gives up.
	TerminalGrace time.Duration
	// Progress reports a change of state (never a secret).
	Progress func(format string, args ...any)
	// RequestReconcile asks every object of the tree to reconcile, as
	// `flux reconcile` does, and waits until each has handled the request:
	// after the controllers (re)started on a cluster that had the tree, the
	// status they left says nothing about the state now (seen: a recover
	// that restarted them found the tree Ready from before, and verify a
	// moment later found a Kustomization reconciling).
	RequestReconcile bool
}

// WaitResult is when each part was done, from the start of the wait.
type WaitResult struct {
	// SourceAfter is when the GitRepository had fetched the commit.
	SourceAfter time.Duration
	// ReadyAfter is when the whole tree was Ready at the commit.
	ReadyAfter time.Duration
	Tree       *Tree
}

// terminalReasons are Ready=False reasons of a latest-generation object
// that only a change in Git fixes; Flux keeps retrying them.
var terminalReasons = map[string]bool{
	"BuildFailed": true, "InstallFailed": true, "UpgradeFailed": true, "RetriesExceeded": true,
	"ArtifactFailed": true, "ReconciliationFailed": true,
}

// TerminalError is a Flux object that failed for good at the commit.
type TerminalError struct {
	Object  string
	Message string
}

func (e *TerminalError) Error() string { return e.Object + ": " + e.Message }

// Wait polls the tree until the source fetched the commit and the root
// Kustomization and everything reachable from it are Ready at it. It stops
// at once on a Stalled object and after TerminalGrace on a terminal
// failure, naming the object and Flux's message; on ctx's end it names
// what was still not done.
func Wait(ctx context.Context, cfg *rest.Config, o WaitOptions) (*WaitResult, error) {
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	if o.TerminalGrace <= 0 {
		o.TerminalGrace = 10 * time.Second
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	k, err := connect(cfg)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	res := &WaitResult{}
	failingSince := map[string]time.Time{}
	lastLine := ""
	var lastErr error
	var req *reconcileRequest
	if o.RequestReconcile {
		req = &reconcileRequest{token: start.UTC().Format(time.RFC3339Nano), asked: map[string]bool{}}
	}
	for {
		t, err := k.readTree(ctx, o.Source, o.Root)
		if err == nil && req != nil {
			err = req.ask(ctx, k, t)
		}
		if err == nil {
			res.Tree = t
			if res.SourceAfter == 0 && t.Source.IsReady() && t.Source.AtCommit(o.Commit) {
				res.SourceAfter = time.Since(start)
				o.Progress("%s fetched %s", t.Source.Ref(), t.Source.Revision)
			}
			blockers, terminal := check(t, o.Commit, failingSince, o.TerminalGrace)
			if terminal != nil {
				return res, terminal
			}
			if req != nil && len(blockers) == 0 {
				blockers = req.pending(t)
			}
			if len(blockers) == 0 && res.SourceAfter > 0 {
				res.ReadyAfter = time.Since(start)
				return res, nil
			}
			line := fmt.Sprintf("%d/%d Flux object(s) ready", len(t.Objects)-countNotRoot(blockers), len(t.Objects))
			if len(blockers) > 0 {
				line += "; waiting for " + blockers[0]
			}
			if line != lastLine {
				o.Progress("%s", line)
				lastLine = line
			}
			lastErr = errors.New(strings.Join(blockers, "; "))
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("Flux did not reconcile commit %.12s: %w: %w", o.Commit, lastErr, context.Cause(ctx))
		case <-time.After(o.Poll):
		}
	}
}

// check lists what keeps the tree from being done, deepest first (the
// blocker that explains its parents), and a terminal failure if any.
func check(t *Tree, commit string, failingSince map[string]time.Time, grace time.Duration) ([]string, error) {
	var blockers []string
	if b := t.Source.Blocker(commit); b != "" {
		blockers = append(blockers, t.Source.Ref()+": "+b)
	}
	deepest := -1
	now := time.Now()
	for i := len(t.Objects) - 1; i >= 0; i-- {
		ob := t.Objects[i]
		ref := ob.Ref()
		if ob.Found && ob.Stalled {
			return nil, &TerminalError{Object: ref, Message: ob.StalledMessage}
		}
		if ob.Found && ob.ReadyCurrent && ob.Ready == "False" && terminalReasons[ob.Reason] && (ob.Kind == HelmRelease.Kind || revisionHas(ob.Attempted, commit) || commit == "") {
			if failingSince[ref].IsZero() {
				failingSince[ref] = now
			} else if now.Sub(failingSince[ref]) >= grace {
				return nil, &TerminalError{Object: ref, Message: ob.Reason + ": " + ob.Message}
			}
		} else {
			delete(failingSince, ref)
		}
		if b := ob.Blocker(commit); b != "" {
			if deepest < 0 || ob.Depth > deepest {
				deepest = ob.Depth
				blockers = append([]string{ref + ": " + b}, blockers...)
			} else {
				blockers = append(blockers, ref+": "+b)
			}
		}
	}
	return blockers, nil
}

// countNotRoot counts blockers that are tree objects, not the source.
func countNotRoot(blockers []string) int {
	n := 0
	for _, b := range blockers {
		if !strings.HasPrefix(b, GitRepository.Kind+"/") {
			n++
		}
	}
	return n
}
