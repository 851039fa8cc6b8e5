package bootstrap

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// retrySteps are the steps that talk to API servers and are safe to repeat:
// a transient failure (an API server restarting, a timeout) is retried with
// backoff instead of failing the run. Preflight only reads.
var retrySteps = map[string]bool{StepPreflight: true, StepAgent: true, StepReplay: true, StepVerify: true, StepDetect: true}

// retryBudget bounds how long a step keeps retrying transient failures.
const retryBudget = 2 * time.Minute

// transient reports whether err looks like a passing outage of an API server.
func transient(err error) bool {
	var exited *agentExitedError
	if err == nil || errors.Is(err, context.Canceled) || errors.As(err, &exited) {
		return false
	}
	if apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	// Helm and some client paths flatten errors into strings.
	msg := err.Error()
	for _, s := range []string{"connection refused", "connection reset by peer", "i/o timeout", "TLS handshake timeout",
		"the server is currently unable to handle the request", "unexpected EOF", "http2: client connection lost"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// withRetry runs fn, retrying transient failures with a doubling backoff
// (1s, 2s, 4s ... up to 15s) until it succeeds, fails for good, or the
// budget runs out.
func (r *run) withRetry(ctx context.Context, step string, fn func(ctx context.Context) (string, bool, error)) (string, bool, error) {
	deadline := time.Now().Add(retryBudget)
	wait := time.Second
	for {
		detail, skipped, err := fn(ctx)
		if err == nil || !retrySteps[step] || !transient(err) || time.Now().Add(wait).After(deadline) {
			return detail, skipped, err
		}
		r.info(step, "", "transient failure, retrying in %s: %s", wait, firstLine(err))
		select {
		case <-ctx.Done():
			return detail, skipped, err
		case <-time.After(wait):
		}
		wait = min(2*wait, 15*time.Second)
	}
}
