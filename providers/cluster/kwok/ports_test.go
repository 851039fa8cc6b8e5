package kwok

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Two clusters being created at once get disjoint ports without one waiting
// for the other's components: the second reservation is taken while the
// first is held, and releasing drops exactly the first's files.
func TestReservePortsDisjointWhileHeld(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	a, releaseA, err := reservePorts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b, releaseB, err := reservePorts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	all := func(ps clusterPorts) []uint32 {
		return []uint32{ps.KubeApiserver, ps.Etcd, ps.EtcdPeer, ps.KubeControllerManager, ps.KubeScheduler, ps.KwokController}
	}
	seen := map[uint32]string{}
	for name, ps := range map[string]clusterPorts{"a": a, "b": b} {
		for _, p := range all(ps) {
			if other, ok := seen[p]; ok {
				t.Fatalf("port %d given to %s and %s", p, other, name)
			}
			seen[p] = name
		}
	}
	dir := filepath.Join(os.TempDir(), "rekindle-kwok-ports-"+strconv.Itoa(os.Getuid())+".d")
	count := func() int {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	if n := count(); n != 12 {
		t.Fatalf("%d reservations held, want 12", n)
	}
	releaseA()
	if n := count(); n != 6 {
		t.Fatalf("%d reservations after releasing a, want b's 6", n)
	}
	for _, p := range all(b) {
		if _, err := os.Stat(filepath.Join(dir, strconv.Itoa(int(p)))); err != nil {
			t.Errorf("b's port %d lost its reservation: %v", p, err)
		}
	}
	releaseB()
	if n := count(); n != 0 {
		t.Fatalf("%d reservations after releasing both", n)
	}
}
