package flux

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/rekindle-dev/rekindle/test/kwoktest"
)

// Installed with its Deployments on a kwok cluster (whose controller
// manager rolls them out, its pods simulated), Flux's controllers are
// waited for until available; a controller Deployment deleted afterwards
// is named as missing, which is what makes recover re-run the agent step.
func TestWaitControllersAndMissing(t *testing.T) {
	ctrllog.SetLogger(logr.Discard())
	kc := kwoktest.New(t, "fluxpods", 1)
	layout := exampleLayout(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if down, err := ControllersNotAvailable(ctx, kc.Config, layout); err != nil || len(down) != 3 {
		t.Fatalf("before the install: %v not available (%v), want all three missing", down, err)
	}
	if err := Install(ctx, kc.Config, InstallOptions{Layout: layout, AgeKey: "AGE-SECRET-KEY-1TEST", Log: t.Logf}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := WaitControllers(ctx, kc.Config, layout, ControllersOptions{Progress: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("controllers available after %s", time.Since(start).Round(time.Millisecond))
	if down, err := ControllersNotAvailable(ctx, kc.Config, layout); err != nil || len(down) != 0 {
		t.Fatalf("after the wait: %v not available (%v)", down, err)
	}
	k, err := connect(kc.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.c.Delete(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: "kustomize-controller"}}); err != nil {
		t.Fatal(err)
	}
	down, err := ControllersNotAvailable(ctx, kc.Config, layout)
	if err != nil || len(down) != 1 || !strings.Contains(down[0], "kustomize-controller (missing)") {
		t.Errorf("after deleting kustomize-controller: %v, %v", down, err)
	}
	short, cancel2 := context.WithTimeout(ctx, 2*time.Second)
	defer cancel2()
	if err := WaitControllers(short, kc.Config, layout, ControllersOptions{}); err == nil || !strings.Contains(err.Error(), "kustomize-controller (missing)") {
		t.Errorf("the wait with kustomize-controller gone: %v, want it to time out naming it", err)
	}
}
