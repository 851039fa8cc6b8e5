package capi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	clusterctlv1 "sigs.k8s.io/cluster-api/cmd/clusterctl/api/v1alpha3"
	"sigs.k8s.io/yaml"
)

func TestMissingProviders(t *testing.T) {
	pins := Providers{Core: "cluster-api:v1.14.2", Bootstrap: []string{"kubeadm:v1.14.2"}, Infrastructure: []string{"docker:v1.14.2"}}
	inv := func(typ clusterctlv1.ProviderType, name, version string) clusterctlv1.Provider {
		p := clusterctlv1.Provider{ProviderName: name, Type: string(typ), Version: version}
		p.Namespace = "capi-system"
		return p
	}
	cases := []struct {
		name    string
		have    []clusterctlv1.Provider
		want    string
		wantErr string
	}{
		{"nothing installed", nil, "cluster-api:v1.14.2, kubeadm:v1.14.2, docker:v1.14.2", ""},
		{"all installed: init is skipped", []clusterctlv1.Provider{
			inv(clusterctlv1.CoreProviderType, "cluster-api", "v1.14.2"),
			inv(clusterctlv1.BootstrapProviderType, "kubeadm", "v1.14.2"),
			inv(clusterctlv1.InfrastructureProviderType, "docker", "v1.14.2"),
		}, "", ""},
		{"a kubeadm control plane does not stand for the kubeadm bootstrap provider", []clusterctlv1.Provider{
			inv(clusterctlv1.CoreProviderType, "cluster-api", "v1.14.2"),
			inv(clusterctlv1.ControlPlaneProviderType, "kubeadm", "v1.14.2"),
		}, "kubeadm:v1.14.2, docker:v1.14.2", ""},
		{"another version is refused", []clusterctlv1.Provider{
			inv(clusterctlv1.CoreProviderType, "cluster-api", "v1.13.0"),
		}, "", `CoreProvider "cluster-api" is installed at v1.13.0 in namespace capi-system but the blueprint pins v1.14.2`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, err := pins.list()
			if err != nil {
				t.Fatal(err)
			}
			got, err := missingProviders(want, tc.have)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v; want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := joinPinned(got); s != tc.want {
				t.Fatalf("missing = %q; want %q", s, tc.want)
			}
		})
	}
	if _, err := (Providers{Core: "cluster-api"}).list(); err == nil {
		t.Fatal("an unpinned provider was accepted")
	}
}

// TestClusterctlConfigFromLocalRepository checks the configuration clusterctl
// reads when the blueprint holds a local repository: one provider entry per
// components file (file:// URLs, absolute), cert-manager from the repository,
// and the blueprint's own settings kept.
func TestClusterctlConfigFromLocalRepository(t *testing.T) {
	dir := t.TempDir()
	user := filepath.Join(dir, "clusterctl.yaml")
	if err := os.WriteFile(user, []byte("overridesFolder: /srv/overrides\nEXP_CLUSTER_RESOURCE_SET: \"true\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &provider{opts: Options{StateDir: dir, Repository: "testdata/repository", ClusterctlConfig: user}}
	path, err := p.clusterctlConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Overrides   string `json:"overridesFolder"`
		Flag        string `json:"EXP_CLUSTER_RESOURCE_SET"`
		Providers   []map[string]string
		CertManager map[string]string `json:"cert-manager"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	repo, _ := filepath.Abs("testdata/repository")
	if cfg.Overrides != "/srv/overrides" || cfg.Flag != "true" {
		t.Errorf("the blueprint's settings were lost:\n%s", data)
	}
	if len(cfg.Providers) != 1 || cfg.Providers[0]["name"] != "cluster-api" || cfg.Providers[0]["type"] != "CoreProvider" ||
		cfg.Providers[0]["url"] != "file://"+repo+"/cluster-api/v1.14.2/core-components.yaml" {
		t.Errorf("providers = %v", cfg.Providers)
	}
	if cfg.CertManager["url"] != "file://"+repo+"/cert-manager/v1.21.1/cert-manager.yaml" || cfg.CertManager["version"] != "v1.21.1" {
		t.Errorf("cert-manager = %v", cfg.CertManager)
	}
	// Without a repository, the blueprint's file (or clusterctl's default) is used as is.
	p.opts.Repository = ""
	if path, _ := p.clusterctlConfigFile(); path != user {
		t.Errorf("config = %q; want %q", path, user)
	}
}

func TestLoadManifests(t *testing.T) {
	objs, err := LoadManifests("testdata/manifests/work", "team-a")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName())
	}
	want := "Cluster/team-a/work KwokCluster/team-a/work KwokControlPlane/team-a/work KwokMachineTemplate/team-a/work-md-0 MachineDeployment/team-a/work-md-0"
	if strings.Join(got, " ") != want {
		t.Fatalf("objects = %v; want %s", got, want)
	}
	if err := checkCluster(objs, "dir", "team-a", "work"); err != nil {
		t.Fatal(err)
	}
	if err := checkCluster(objs, "dir", "default", "work"); err == nil {
		t.Fatal("a Cluster in another namespace was accepted")
	}
}
