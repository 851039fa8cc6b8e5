package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestTransient(t *testing.T) {
	gr := schema.GroupResource{Resource: "configmaps"}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection refused", fmt.Errorf("install agent: %w", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), true},
		{"flattened by helm", errors.New(`Kubernetes cluster unreachable: Get "https://127.0.0.1:1/version": dial tcp 127.0.0.1:1: connect: connection refused`), true},
		{"server timeout", apierrors.NewServerTimeout(gr, "create", 1), true},
		{"service unavailable", apierrors.NewServiceUnavailable("etcd is restarting"), true},
		{"not found", apierrors.NewNotFound(gr, "x"), false},
		{"forbidden", apierrors.NewForbidden(gr, "x", errors.New("no")), false},
		{"invalid", errors.New(`Deployment.apps "x" is invalid: spec.replicas: Invalid value: -1`), false},
		{"cancelled", context.Canceled, false},
		{"host agent exited, whatever its log says", fmt.Errorf("replay: %w", &agentExitedError{cluster: "a", log: "a.log",
			tail: "  dial tcp 127.0.0.1:1: connect: connection refused"}), false},
	}
	for _, tc := range cases {
		if got := transient(tc.err); got != tc.want {
			t.Errorf("%s: transient(%v) = %t, want %t", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestPreflightIsRetried(t *testing.T) {
	// An API server restarting while a lane runs its preflight (reads only)
	// must not fail the cluster, as it does not during the agent's install.
	for _, step := range []string{StepPreflight, StepAgent, StepReplay, StepVerify} {
		if !retrySteps[step] {
			t.Errorf("step %s does not retry transient failures", step)
		}
	}
}
