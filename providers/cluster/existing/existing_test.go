package existing

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/providers/cluster/kwok"
	"github.com/rekindle-dev/rekindle/test/kwoktest"
)

// kwokCluster starts a real kwok cluster for the test and returns its
// kubeconfig. Without the binaries the test fails in CI and is skipped elsewhere.
func kwokCluster(t *testing.T) cluster.Info {
	t.Helper()
	kwoktest.BinDir(t)
	p, err := kwok.New(kwok.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	name := "existing-" + strings.ToLower(strings.ReplaceAll(time.Now().Format("150405.000"), ".", ""))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), time.Minute)
		defer cancel()
		if err := p.Delete(ctx, name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	info, err := p.Create(t.Context(), cluster.Spec{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestExistingKwokCluster(t *testing.T) {
	kc := kwokCluster(t)
	ctx := t.Context()

	// A kubeconfig with a second, unreachable context: Context selects.
	cfg, err := clientcmd.LoadFromFile(kc.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	good := cfg.CurrentContext
	cfg.Clusters["nowhere"] = &clientcmdapi.Cluster{Server: "https://" + closedAddr(t)}
	cfg.Contexts["nowhere"] = &clientcmdapi.Context{Cluster: "nowhere", AuthInfo: cfg.Contexts[good].AuthInfo}
	cfg.CurrentContext = "nowhere"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}

	p, err := New(Options{Kubeconfig: path, Context: good})
	if err != nil {
		t.Fatal(err)
	}
	info, err := p.Create(ctx, cluster.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	if info.State != cluster.Running || info.APIServer != kc.APIServer || info.Name != good || info.Provider != "existing" {
		t.Fatalf("Create = %+v; want Running at %s named %s", info, kc.APIServer, good)
	}
	if got, err := p.Get(ctx, ""); err != nil || got.State != cluster.Running {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if list, err := p.List(ctx); err != nil || len(list) != 1 || list[0].State != cluster.Running {
		t.Fatalf("List = %+v, %v", list, err)
	}

	err = p.Delete(ctx, good)
	if !errors.Is(err, ErrNotOwned) || !strings.Contains(err.Error(), "never deletes a cluster it did not create") {
		t.Fatalf("Delete = %v; want a refusal", err)
	}
	if got, _ := p.Get(ctx, ""); got.State != cluster.Running {
		t.Fatalf("after the refused Delete, Get = %+v", got)
	}

	// The current context of the same file is the unreachable one.
	other, _ := New(Options{Kubeconfig: path})
	if _, err := other.Create(ctx, cluster.Spec{}); err == nil {
		t.Fatal("Create through the unreachable context succeeded")
	}
}

// closedAddr is a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentAddr accepts connections and never answers.
func silentAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return l.Addr().String()
}

func TestUnreachableIsUnhealthyQuickly(t *testing.T) {
	for _, tc := range []struct{ name, addr string }{
		{"refused", closedAddr(t)},
		{"silent", silentAddr(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := clientcmdapi.NewConfig()
			cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: "https://" + tc.addr, InsecureSkipTLSVerify: true}
			cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "x"}
			cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
			cfg.CurrentContext = "c"
			path := filepath.Join(t.TempDir(), "kubeconfig")
			if err := clientcmd.WriteToFile(*cfg, path); err != nil {
				t.Fatal(err)
			}
			p, _ := New(Options{Kubeconfig: path, Name: "prod"})

			start := time.Now()
			got, err := p.Get(t.Context(), "")
			took := time.Since(start)
			if err != nil || got.State != cluster.Unhealthy || got.Reason == "" || got.Name != "prod" {
				t.Fatalf("Get = %+v, %v; want Unhealthy with a reason", got, err)
			}
			if took > 2*cluster.ProbeTimeout+time.Second {
				t.Fatalf("Get took %s", took)
			}
			t.Logf("Get in %s: %s", took.Round(time.Millisecond), got.Reason)
			if _, err := p.Create(t.Context(), cluster.Spec{}); err == nil || !strings.Contains(err.Error(), "not usable") {
				t.Fatalf("Create = %v; want not usable", err)
			}
		})
	}
}

func TestMissingKubeconfig(t *testing.T) {
	p, _ := New(Options{Kubeconfig: filepath.Join(t.TempDir(), "none"), Context: "x"})
	got, err := p.Get(t.Context(), "")
	if err != nil || got.State != cluster.Unhealthy || !strings.Contains(got.Reason, "kubeconfig") {
		t.Fatalf("Get = %+v, %v; want Unhealthy naming the kubeconfig", got, err)
	}
}
