package proc

import (
	"os/exec"
	"testing"
	"time"
)

// TestStop: a process that honours SIGTERM stops at once; one that ignores
// it is killed after the grace period; a pid that is gone is no error.
func TestStop(t *testing.T) {
	polite := exec.Command("sleep", "60")
	if err := polite.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	go polite.Wait()
	start := time.Now()
	if err := Stop(polite.Process.Pid, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second || !Exited(polite.Process.Pid) {
		t.Errorf("a process that honours SIGTERM: exited %v after %s", Exited(polite.Process.Pid), took)
	}

	stubborn := exec.Command("sh", "-c", "trap '' TERM; exec sleep 60") // an ignored signal stays ignored across exec
	if err := stubborn.Start(); err != nil {
		t.Fatal(err)
	}
	go stubborn.Wait()
	time.Sleep(200 * time.Millisecond) // let the shell set its trap
	start = time.Now()
	if err := Stop(stubborn.Process.Pid, 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 500*time.Millisecond || !Exited(stubborn.Process.Pid) {
		t.Errorf("a process that ignores SIGTERM: exited %v when Stop returned after %s, want killed after the 500ms grace and gone", Exited(stubborn.Process.Pid), took)
	}

	if err := Stop(stubborn.Process.Pid, time.Second); err != nil {
		t.Errorf("stopping a pid that is gone: %v", err)
	}
}
