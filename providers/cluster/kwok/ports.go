package kwok

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// Ports that rekindle gives each cluster's components. kwokctl's own choice
// (walking down from 32767 in every kwokctl process, checking only that a port
// is free right now) hands two clusters created at the same time the same
// ports, and gives a stopped cluster's ports to the next one. rekindle instead
// draws them at random from a range of its own, below the kernel's ephemeral
// ports and away from kwokctl's, while holding a per-user lock until the
// components listen.
const (
	portMin = 20000
	portMax = 29999
)

// clusterPorts are the ports of one cluster's components.
type clusterPorts struct {
	KubeApiserver, Etcd, EtcdPeer, KubeControllerManager, KubeScheduler, KwokController uint32
}

// pickPorts draws six distinct free ports.
func pickPorts() (clusterPorts, error) {
	seen := map[uint32]bool{}
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

// portsLock serializes, for this user on this machine, the time from choosing
// ports to the components listening on them.
func portsLock(ctx context.Context) (func(), error) {
	return lockFile(ctx, filepath.Join(os.TempDir(), fmt.Sprintf("rekindle-kwok-ports-%d.lock", os.Getuid())))
}
