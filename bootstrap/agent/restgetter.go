package agent

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// restGetter is the genericclioptions.RESTClientGetter Helm needs, over a
// rest.Config we already hold (there is no kubeconfig file to read in-cluster).
type restGetter struct {
	cfg       *rest.Config
	namespace string
	discovery discovery.CachedDiscoveryInterface
}

func newRESTGetter(cfg *rest.Config, namespace string) (*restGetter, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(rest.CopyConfig(cfg))
	if err != nil {
		return nil, err
	}
	return &restGetter{cfg: cfg, namespace: namespace, discovery: memory.NewMemCacheClient(dc)}, nil
}

func (g *restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.cfg), nil }

func (g *restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.discovery, nil
}

func (g *restGetter) ToRESTMapper() (meta.RESTMapper, error) {
	m := restmapper.NewDeferredDiscoveryRESTMapper(g.discovery)
	return restmapper.NewShortcutExpander(m, g.discovery, nil), nil
}

func (g *restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	return &fixedClientConfig{cfg: g.cfg, namespace: g.namespace}
}

// fixedClientConfig answers clientcmd.ClientConfig from a rest.Config and a
// namespace: Helm's kube client asks it for the default namespace.
type fixedClientConfig struct {
	cfg       *rest.Config
	namespace string
}

func (c *fixedClientConfig) RawConfig() (clientcmdapi.Config, error) {
	return clientcmdapi.Config{
		CurrentContext: "rekindle",
		Contexts:       map[string]*clientcmdapi.Context{"rekindle": {Cluster: "rekindle", Namespace: c.namespace}},
		Clusters:       map[string]*clientcmdapi.Cluster{"rekindle": {Server: c.cfg.Host}},
	}, nil
}

func (c *fixedClientConfig) ClientConfig() (*rest.Config, error) { return rest.CopyConfig(c.cfg), nil }

func (c *fixedClientConfig) Namespace() (string, bool, error) {
	if c.namespace == "" {
		return "default", false, nil
	}
	return c.namespace, true, nil
}

func (c *fixedClientConfig) ConfigAccess() clientcmd.ConfigAccess {
	return clientcmd.NewDefaultClientConfigLoadingRules()
}
