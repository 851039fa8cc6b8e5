package kwok

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Ports that rekindle gives each cluster's components. kwokctl's own choice
// (walking down from 32767 in every kwokctl process, checking only that a port
// is free right now) hands two clusters created at the same time the same
// ports, and gives a stopped cluster's ports to the next one. rekindle instead
// draws them at random from a range of its own, below the kernel's ephemeral
// ports and away from kwokctl's, and reserves them (one file per port, taken
// under a per-user lock held only while choosing) until the components
// listen; clusters created at the same time start side by side.
const (
	portMin = 20000
	portMax = 29999
	// reservationTTL is when a reservation left by a crashed creation stops
	// counting.
	reservationTTL = 15 * time.Minute
)

// clusterPorts are the ports of one cluster's components.
type clusterPorts struct {
	KubeApiserver, Etcd, EtcdPeer, KubeControllerManager, KubeScheduler, KwokController uint32
}

// pickPorts draws six distinct free ports, none of them in seen.
func pickPorts(seen map[uint32]bool) (clusterPorts, error) {
	next := func() (uint32, error) {
		for range 1000 {
			p := uint32(portMin + rand.IntN(portMax-portMin+1))
			if !seen[p] && portFree(p) {
				seen[p] = true
				return p, nil
			}
		}
		return 0, fmt.Errorf("no free port in %d-%d", portMin, portMax)
	}
	var ps clusterPorts
	for _, f := range []*uint32{&ps.KubeApiserver, &ps.Etcd, &ps.EtcdPeer, &ps.KubeControllerManager, &ps.KubeScheduler, &ps.KwokController} {
		p, err := next()
		if err != nil {
			return ps, err
		}
		*f = p
	}
	return ps, nil
}

// portFree reports whether nothing listens on port, on loopback or on any address.
func portFree(port uint32) bool {
	for _, host := range []string{"127.0.0.1", ""} {
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(int(port))))
		if err != nil {
			return false
		}
		_ = l.Close()
	}
	return true
}

// writeKwokctlConfig writes the kwokctl configuration file rekindle passes
// with --config: the ports, and components listening on loopback only.
func writeKwokctlConfig(path string, ps clusterPorts) error {
	content := fmt.Sprintf(`apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  bindAddress: 127.0.0.1
  kubeApiserverPort: %d
  etcdPort: %d
  etcdPeerPort: %d
  kubeControllerManagerPort: %d
  kubeSchedulerPort: %d
  kwokControllerPort: %d
`, ps.KubeApiserver, ps.Etcd, ps.EtcdPeer, ps.KubeControllerManager, ps.KubeScheduler, ps.KwokController)
	return os.WriteFile(path, []byte(content), 0o600)
}

// reservePorts chooses a new cluster's ports, free and reserved by no other
// cluster being created, and reserves them; release drops the reservation
// once the components listen on them (or failed to).
func reservePorts(ctx context.Context) (ps clusterPorts, release func(), err error) {
	unlock, err := portsLock(ctx)
	if err != nil {
		return ps, nil, err
	}
	defer unlock()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("rekindle-kwok-ports-%d.d", os.Getuid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ps, nil, fmt.Errorf("reserve ports: %w", err)
	}
	reserved := map[uint32]bool{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ps, nil, fmt.Errorf("reserve ports: %w", err)
	}
	for _, e := range entries {
		port, perr := strconv.ParseUint(e.Name(), 10, 32)
		info, ierr := e.Info()
		switch {
		case perr != nil || ierr != nil:
		case time.Since(info.ModTime()) > reservationTTL:
			_ = os.Remove(filepath.Join(dir, e.Name()))
		default:
			reserved[uint32(port)] = true
		}
	}
	if ps, err = pickPorts(reserved); err != nil {
		return ps, nil, err
	}
	var files []string
	release = func() {
		for _, f := range files {
			_ = os.Remove(f)
		}
	}
	for _, port := range []uint32{ps.KubeApiserver, ps.Etcd, ps.EtcdPeer, ps.KubeControllerManager, ps.KubeScheduler, ps.KwokController} {
		f := filepath.Join(dir, strconv.Itoa(int(port)))
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			release()
			return ps, nil, fmt.Errorf("reserve ports: %w", err)
		}
		files = append(files, f)
	}
	return ps, release, nil
}

// portsLock serializes, for this user on this machine, choosing ports and
// reserving them.
func portsLock(ctx context.Context) (func(), error) {
	return lockFile(ctx, filepath.Join(os.TempDir(), fmt.Sprintf("rekindle-kwok-ports-%d.lock", os.Getuid())))
}
