package cpustat

import (
	"testing"
	"time"
)

func TestMachineBusyTicksGrows(t *testing.T) {
	before := MachineBusyTicks()
	if before <= 0 {
		t.Fatalf("MachineBusyTicks() = %d: /proc/stat not read", before)
	}
	// Spin (this is busy time) until the machine's counter moves.
	for deadline := time.Now().Add(5 * time.Second); MachineBusyTicks() == before; {
		if time.Now().After(deadline) {
			t.Fatal("the machine's busy time did not grow in 5 s of spinning")
		}
	}
	if s := Since(before); s <= 0 {
		t.Fatalf("Since = %v after the counter grew", s)
	}
}
