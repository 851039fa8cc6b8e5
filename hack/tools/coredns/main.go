// Command coredns is CoreDNS (github.com/coredns/coredns, at the version
// kubeadm names for the pinned Kubernetes) with only the plugins of
// kubeadm's default Corefile, for rekindle's offline kind node image
// (hack/kind-node-image.sh): CoreDNS's own way of building with a chosen
// plugin set, as its coredns.go does with all of them. The full set (cloud
// DNS providers, etcd, dnstap, tracing) took about 20 minutes to compile
// here; this takes a fraction.
package main

import (
	"github.com/coredns/coredns/coremain"

	// kubeadm's Corefile: errors, health, ready, kubernetes, prometheus,
	// forward, cache, loop, reload, loadbalance; and log, for debugging.
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

func main() {
	coremain.Run()
}
