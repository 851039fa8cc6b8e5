package capi

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr/funcr"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	clusterctlv1 "sigs.k8s.io/cluster-api/cmd/clusterctl/api/v1alpha3"
	clusterctl "sigs.k8s.io/cluster-api/cmd/clusterctl/client"
	clusterctllog "sigs.k8s.io/cluster-api/cmd/clusterctl/log"
	"sigs.k8s.io/yaml"
)

// pinned is one provider of Providers, split.
type pinned struct {
	typ     clusterctlv1.ProviderType
	name    string
	version string
}

func (p pinned) String() string { return p.name + ":" + p.version }

// list flattens and splits the pinned providers.
func (ps Providers) list() ([]pinned, error) {
	var out []pinned
	add := func(t clusterctlv1.ProviderType, specs ...string) error {
		for _, s := range specs {
			name, version, ok := strings.Cut(s, ":")
			if !ok || name == "" || !strings.HasPrefix(version, "v") {
				return fmt.Errorf("provider %q must be pinned as name:version (like kubeadm:v1.14.2)", s)
			}
			out = append(out, pinned{t, name, version})
		}
		return nil
	}
	if ps.Core != "" {
		if err := add(clusterctlv1.CoreProviderType, ps.Core); err != nil {
			return nil, err
		}
	}
	for _, x := range []struct {
		t     clusterctlv1.ProviderType
		specs []string
	}{
		{clusterctlv1.BootstrapProviderType, ps.Bootstrap},
		{clusterctlv1.ControlPlaneProviderType, ps.ControlPlane},
		{clusterctlv1.InfrastructureProviderType, ps.Infrastructure},
	} {
		if err := add(x.t, x.specs...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// installed lists the providers clusterctl's inventory records on the
// management cluster (Provider objects of clusterctl.cluster.x-k8s.io). No
// inventory at all is an empty list.
func (m *management) installed(ctx context.Context) ([]clusterctlv1.Provider, error) {
	var list clusterctlv1.ProviderList
	if err := m.client.List(ctx, &list); err != nil {
		if apimeta.IsNoMatchError(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("read clusterctl's provider inventory: %w", err)
	}
	return list.Items, nil
}

// missingProviders compares the pinned providers with the inventory. A
// provider installed at another version is an error: changing versions is
// clusterctl upgrade's job, which rekindle does not do behind the user's back.
func missingProviders(want []pinned, have []clusterctlv1.Provider) ([]pinned, error) {
	var missing []pinned
	for _, w := range want {
		found := false
		for _, h := range have {
			if h.Type != string(w.typ) || h.ProviderName != w.name {
				continue
			}
			if h.Version != w.version {
				return nil, fmt.Errorf("%s %q is installed at %s in namespace %s but the blueprint pins %s: upgrade it with clusterctl upgrade apply, or pin %s", w.typ, w.name, h.Version, h.Namespace, w.version, h.Version)
			}
			found = true
		}
		if !found {
			missing = append(missing, w)
		}
	}
	return missing, nil
}

// ensureProviders installs the pinned providers that the inventory lacks,
// through clusterctl init. Without pinned providers, Cluster API must
// already be installed.
func (p *provider) ensureProviders(ctx context.Context, m *management) error {
	start := time.Now()
	want, err := p.opts.Providers.list()
	if err != nil {
		return err
	}
	have, err := m.installed(ctx)
	if err != nil {
		return fmt.Errorf("management cluster %q: %w", p.opts.ManagementName, err)
	}
	if len(want) == 0 {
		if _, err := m.mapper.RESTMapping(clusterGK); err != nil {
			return fmt.Errorf("management cluster %q does not serve Cluster API's Cluster kind and capi.providers pins none to install: %w", p.opts.ManagementName, err)
		}
		p.report(fmt.Sprintf("Cluster API already on management cluster %q (%d provider(s) in the inventory)", p.opts.ManagementName, len(have)), start)
		return nil
	}
	missing, err := missingProviders(want, have)
	if err != nil {
		return fmt.Errorf("management cluster %q: %w", p.opts.ManagementName, err)
	}
	if len(missing) == 0 {
		p.report(fmt.Sprintf("providers already installed on %q: %s", p.opts.ManagementName, joinPinned(want)), start)
		return nil
	}
	if err := p.clusterctlInit(ctx, missing, len(have) == 0); err != nil {
		return fmt.Errorf("clusterctl init on management cluster %q (%s): %w", p.opts.ManagementName, joinPinned(missing), err)
	}
	p.report(fmt.Sprintf("clusterctl init on %q: %s", p.opts.ManagementName, joinPinned(missing)), start)
	return nil
}

func joinPinned(ps []pinned) string {
	s := make([]string, len(ps))
	for i, x := range ps {
		s[i] = x.String()
	}
	return strings.Join(s, ", ")
}

// clusterctlInit runs clusterctl init for the missing providers. On a first
// init with no bootstrap or control-plane provider pinned, "-" keeps
// clusterctl from adding kubeadm behind the blueprint's back.
func (p *provider) clusterctlInit(ctx context.Context, missing []pinned, firstRun bool) error {
	c, err := p.clusterctlClient(ctx)
	if err != nil {
		return err
	}
	opts := clusterctl.InitOptions{
		Kubeconfig:          clusterctl.Kubeconfig{Path: p.opts.ManagementKubeconfig, Context: p.opts.ManagementContext},
		WaitProviders:       true,
		WaitProviderTimeout: p.opts.StallTimeout,
	}
	for _, x := range missing {
		switch x.typ {
		case clusterctlv1.CoreProviderType:
			opts.CoreProvider = x.String()
		case clusterctlv1.BootstrapProviderType:
			opts.BootstrapProviders = append(opts.BootstrapProviders, x.String())
		case clusterctlv1.ControlPlaneProviderType:
			opts.ControlPlaneProviders = append(opts.ControlPlaneProviders, x.String())
		case clusterctlv1.InfrastructureProviderType:
			opts.InfrastructureProviders = append(opts.InfrastructureProviders, x.String())
		}
	}
	if firstRun {
		if len(opts.BootstrapProviders) == 0 {
			opts.BootstrapProviders = []string{clusterctl.NoopProvider}
		}
		if len(opts.ControlPlaneProviders) == 0 {
			opts.ControlPlaneProviders = []string{clusterctl.NoopProvider}
		}
	}
	_, err = c.Init(ctx, opts)
	return err
}

// clusterctlClient returns a clusterctl client reading the configuration
// Options name: the clusterctl config file, to which providers found in the
// local repository are added (written under the state dir), or clusterctl's
// default file. Overrides (overridesFolder, $XDG_CONFIG_HOME/cluster-api/overrides)
// are clusterctl's own and work as they do for the CLI.
func (p *provider) clusterctlClient(ctx context.Context) (clusterctl.Client, error) {
	setClusterctlLog(p.opts.Log)
	path, err := p.clusterctlConfigFile()
	if err != nil {
		return nil, err
	}
	c, err := clusterctl.New(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("clusterctl configuration %q: %w", path, err)
	}
	return c, nil
}

// setClusterctlLog sends clusterctl's log (a package-level logger in
// clusterctl) to w, one line per message.
func setClusterctlLog(w io.Writer) {
	if w == nil {
		return
	}
	clusterctllog.SetLogger(funcr.New(func(prefix, args string) {
		fmt.Fprintf(w, "clusterctl: %s\n", strings.TrimSpace(prefix+" "+args))
	}, funcr.Options{}))
}

// clusterctlConfigFile returns the configuration file clusterctl reads:
// without a local repository, the blueprint's file (or "" for clusterctl's
// default); with one, a file under the state dir holding the blueprint's
// settings plus a providers entry (and cert-manager) for each component
// file found in the repository.
func (p *provider) clusterctlConfigFile() (string, error) {
	if p.opts.Repository == "" {
		return p.opts.ClusterctlConfig, nil
	}
	cfg := map[string]any{}
	if p.opts.ClusterctlConfig != "" {
		data, err := os.ReadFile(p.opts.ClusterctlConfig)
		if err != nil {
			return "", err
		}
		if err := yaml.Unmarshal(data, &cfg); err != nil {
			return "", fmt.Errorf("%s: %w", p.opts.ClusterctlConfig, err)
		}
	}
	local, certManager, err := LocalRepository(p.opts.Repository)
	if err != nil {
		return "", err
	}
	var providers []any
	if old, ok := cfg["providers"].([]any); ok {
		providers = old
	}
	for _, l := range local {
		providers = append(providers, map[string]any{"name": l.Name, "type": l.Type, "url": l.URL})
	}
	cfg["providers"] = providers
	if certManager != nil {
		cm, _ := cfg["cert-manager"].(map[string]any)
		if cm == nil {
			cm = map[string]any{}
		}
		cm["url"], cm["version"] = certManager.URL, certManager.Version
		cfg["cert-manager"] = cm
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(p.opts.StateDir, "clusters", ProviderName, "clusterctl")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "clusterctl.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", err
	}
	return path, nil
}

// LocalProvider is a provider found in a clusterctl local repository.
type LocalProvider struct {
	Name    string
	Type    string
	Version string
	URL     string
}

// componentFiles maps a local repository's label prefixes to provider types
// and the components file clusterctl names for them.
var componentFiles = []struct {
	prefix string
	typ    clusterctlv1.ProviderType
	file   string
}{
	{"bootstrap-", clusterctlv1.BootstrapProviderType, "bootstrap-components.yaml"},
	{"control-plane-", clusterctlv1.ControlPlaneProviderType, "control-plane-components.yaml"},
	{"infrastructure-", clusterctlv1.InfrastructureProviderType, "infrastructure-components.yaml"},
	{"ipam-", clusterctlv1.IPAMProviderType, "ipam-components.yaml"},
	{"runtime-extension-", clusterctlv1.RuntimeExtensionProviderType, "runtime-extension-components.yaml"},
	{"addon-", clusterctlv1.AddonProviderType, "addon-components.yaml"},
	{"", clusterctlv1.CoreProviderType, "core-components.yaml"},
}

// LocalRepository lists the providers of a clusterctl local repository laid
// out as {dir}/{provider-label}/{version}/{components file} (the layout
// clusterctl documents), with the cert-manager entry when
// {dir}/cert-manager/{version}/cert-manager.yaml exists. One version
// directory per provider is expected: the blueprint pins which one init uses.
func LocalRepository(dir string) ([]LocalProvider, *LocalProvider, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, err
	}
	labels, err := os.ReadDir(abs)
	if err != nil {
		return nil, nil, fmt.Errorf("clusterctl local repository: %w", err)
	}
	var out []LocalProvider
	var certManager *LocalProvider
	seen := map[string]int{}
	for _, l := range labels {
		if !l.IsDir() {
			continue
		}
		versions, err := os.ReadDir(filepath.Join(abs, l.Name()))
		if err != nil {
			return nil, nil, err
		}
		for _, v := range versions {
			if !v.IsDir() {
				continue
			}
			vdir := filepath.Join(abs, l.Name(), v.Name())
			if l.Name() == "cert-manager" {
				if f := filepath.Join(vdir, "cert-manager.yaml"); fileExists(f) {
					certManager = &LocalProvider{Name: "cert-manager", Version: v.Name(), URL: "file://" + f}
				}
				continue
			}
			for _, cf := range componentFiles {
				name, ok := strings.CutPrefix(l.Name(), cf.prefix)
				if !ok || name == "" {
					continue
				}
				if f := filepath.Join(vdir, cf.file); fileExists(f) {
					lp := LocalProvider{Name: name, Type: string(cf.typ), Version: v.Name(), URL: "file://" + f}
					// clusterctl finds every version from one URL: one entry per provider.
					if i, ok := seen[string(cf.typ)+"/"+name]; ok {
						out[i] = lp
					} else {
						seen[string(cf.typ)+"/"+name] = len(out)
						out = append(out, lp)
					}
				}
				break
			}
		}
	}
	return out, certManager, nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
