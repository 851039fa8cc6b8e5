// Command kindnetd is the CNI daemon of rekindle's offline kind node image: a
// substitute for kind's kindnetd (github.com/aojea/kindnet, which the Go module
// proxy here does not serve) that does the part a kind cluster needs. On each
// node (a hostNetwork DaemonSet, see ../manifests/default-cni.yaml) it:
//
//   - finds its Node by HOST_IP among the Nodes' InternalIPs;
//   - writes /etc/cni/net.d/10-kindnet.conflist for the node's podCIDR with the
//     ptp, host-local and portmap plugins, as kindnetd does;
//   - routes every other node's podCIDR through that node's InternalIP;
//   - masquerades what pods send outside POD_SUBNET (the chain KIND-MASQ-AGENT
//     in the nat table, with the image's iptables), as kindnetd does.
//
// It reads the API with the pod's ServiceAccount token (stdlib only, static).
// Not done, unlike kindnetd: IPv6, and NetworkPolicy.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

const (
	saDir    = "/var/run/secrets/kubernetes.io/serviceaccount"
	cniConf  = "/etc/cni/net.d/10-kindnet.conflist"
	interval = 10 * time.Second
)

type nodeList struct {
	Items []struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			PodCIDR string `json:"podCIDR"`
		} `json:"spec"`
		Status struct {
			Addresses []struct {
				Type    string `json:"type"`
				Address string `json:"address"`
			} `json:"addresses"`
		} `json:"status"`
	} `json:"items"`
}

func main() {
	hostIP := os.Getenv("HOST_IP")
	if hostIP == "" {
		fatal("HOST_IP is not set")
	}
	client, base, err := apiClient()
	if err != nil {
		fatal(err.Error())
	}
	fmt.Printf("kindnetd (rekindle substitute): node %s, API %s\n", hostIP, base)
	if subnet := os.Getenv("POD_SUBNET"); subnet != "" {
		if err := masquerade(subnet); err != nil {
			fatal(err.Error())
		}
	}
	for {
		if err := reconcile(client, base, hostIP); err != nil {
			fmt.Fprintln(os.Stderr, "reconcile:", err)
		}
		time.Sleep(interval)
	}
}

func fatal(msg string) {
	fmt.Fprintln(os.Stderr, "kindnetd: ERROR:", msg)
	os.Exit(1)
}

func apiClient() (*http.Client, string, error) {
	ca, err := os.ReadFile(filepath.Join(saDir, "ca.crt"))
	if err != nil {
		return nil, "", err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, "", fmt.Errorf("no certificate in %s/ca.crt", saDir)
	}
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if ep := os.Getenv("CONTROL_PLANE_ENDPOINT"); ep != "" {
		var err error
		if host, port, err = net.SplitHostPort(ep); err != nil {
			return nil, "", fmt.Errorf("CONTROL_PLANE_ENDPOINT %q: %w", ep, err)
		}
	}
	if host == "" {
		return nil, "", fmt.Errorf("KUBERNETES_SERVICE_HOST is not set")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, "https://" + net.JoinHostPort(host, port), nil
}

func reconcile(c *http.Client, base, hostIP string) error {
	token, err := os.ReadFile(filepath.Join(saDir, "token"))
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodGet, base+"/api/v1/nodes", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+string(token))
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("list nodes: %s", resp.Status)
	}
	var nodes nodeList
	if err := json.NewDecoder(resp.Body).Decode(&nodes); err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	for _, n := range nodes.Items {
		ip := ""
		for _, a := range n.Status.Addresses {
			if a.Type == "InternalIP" {
				ip = a.Address
			}
		}
		if n.Spec.PodCIDR == "" || ip == "" {
			continue
		}
		if ip == hostIP {
			if err := writeConf(n.Spec.PodCIDR); err != nil {
				return err
			}
			continue
		}
		if err := routeReplace(n.Spec.PodCIDR, ip); err != nil {
			return fmt.Errorf("route %s via %s (node %s): %w", n.Spec.PodCIDR, ip, n.Metadata.Name, err)
		}
	}
	return nil
}

func writeConf(podCIDR string) error {
	conf := fmt.Sprintf(`{
  "cniVersion": "0.3.1",
  "name": "kindnet",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "routes": [{"dst": "0.0.0.0/0"}],
        "ranges": [[{"subnet": %q}]]
      },
      "mtu": 1500
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, podCIDR)
	if old, err := os.ReadFile(cniConf); err == nil && string(old) == conf {
		return nil
	}
	tmp := cniConf + ".tmp"
	if err := os.WriteFile(tmp, []byte(conf), 0o644); err != nil {
		return err
	}
	fmt.Println("wrote", cniConf, "for", podCIDR)
	return os.Rename(tmp, cniConf)
}

// masquerade makes traffic from the pod subnet to anywhere else leave with
// the node's address (idempotent: the chain is flushed and refilled).
func masquerade(subnet string) error {
	const chain = "KIND-MASQ-AGENT"
	steps := [][]string{
		{"-t", "nat", "-N", chain},
		{"-t", "nat", "-F", chain},
		{"-t", "nat", "-A", chain, "-d", subnet, "-j", "RETURN"},
		{"-t", "nat", "-A", chain, "-j", "MASQUERADE"},
	}
	for i, args := range steps {
		if err := iptables(args...); err != nil && i > 0 {
			return err
		}
	}
	if iptables("-t", "nat", "-C", "POSTROUTING", "-s", subnet, "-m", "addrtype", "!", "--dst-type", "LOCAL", "-j", chain) != nil {
		return iptables("-t", "nat", "-A", "POSTROUTING", "-s", subnet, "-m", "addrtype", "!", "--dst-type", "LOCAL", "-j", chain)
	}
	return nil
}

func iptables(args ...string) error {
	var out bytes.Buffer
	cmd := exec.Command("iptables", append([]string{"-w", "5"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("iptables %v: %v: %s", args, err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}
