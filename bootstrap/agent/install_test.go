package agent

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxcd/pkg/ssa/utils"
)

// renderAgentChart renders the embedded chart like `helm template`.
func renderAgentChart(t *testing.T, v InstallValues) map[string]string {
	t.Helper()
	ch, err := Chart()
	if err != nil {
		t.Fatal(err)
	}
	in := action.NewInstall(&action.Configuration{})
	in.DryRun, in.ClientOnly, in.Replace = true, true, true
	in.ReleaseName, in.Namespace = ReleaseName, SystemNamespace
	in.KubeVersion = &chartutil.KubeVersion{Version: "v1.36.3", Major: "1", Minor: "36"}
	rel, err := in.Run(ch, v.helmValues())
	if err != nil {
		t.Fatalf("render chart: %v", err)
	}
	objs, err := utils.ReadObjects(strings.NewReader(rel.Manifest))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, o := range objs {
		out[refOf(o).String()] = utils.ObjectToYAML(o)
	}
	return out
}

func TestAgentChart(t *testing.T) {
	full := InstallValues{Version: "v0.3.0", Blueprint: "https://git.example/acme/blueprint.git", Ref: "v1.2.0",
		Environment: "prod", Cluster: "eu-1", Interval: 2 * time.Minute, GitToken: "s3cr3t-token"}
	hostOnly := InstallValues{SkipDeployment: true, GitToken: "s3cr3t-token"}
	tests := []struct {
		name   string
		values InstallValues
		want   []string
	}{
		{"deployed", full, []string{"ClusterRole/rekindle-agent", "ClusterRoleBinding/rekindle-agent",
			"Deployment/rekindle-system/rekindle-agent", "ServiceAccount/rekindle-system/rekindle-agent"}},
		{"host process (agent.deploy=false)", hostOnly, []string{"ClusterRole/rekindle-agent", "ClusterRoleBinding/rekindle-agent",
			"ServiceAccount/rekindle-system/rekindle-agent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := renderAgentChart(t, tt.values)
			var got []string
			for k := range objs {
				got = append(got, k)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("objects %v, want %v", got, tt.want)
			}
			// Credentials are applied by rekindle, never rendered by the chart.
			for ref, o := range objs {
				if strings.Contains(o, "s3cr3t-token") || strings.Contains(o, base64.StdEncoding.EncodeToString([]byte("s3cr3t-token"))) {
					t.Errorf("%s holds the token:\n%s", ref, o)
				}
			}
		})
	}
	d := renderAgentChart(t, full)["Deployment/rekindle-system/rekindle-agent"]
	for _, want := range []string{"image: ghcr.io/rekindle-dev/rekindle:v0.3.0",
		"replicas: 1", "strategy:\n    type: Recreate",
		"livenessProbe:\n          failureThreshold: 3\n          httpGet:\n            path: /healthz\n            port: metrics",
		"readinessProbe:\n          httpGet:\n            path: /readyz\n            port: metrics",
		"- --metrics-address\n        - :8080", "containerPort: 8080\n          name: metrics",
		"args:\n        - --blueprint\n        - https://git.example/acme/blueprint.git\n        - --ref\n        - v1.2.0\n        - --env\n        - prod\n        - --cluster\n        - eu-1\n        - --interval\n        - 2m0s"} {
		if !strings.Contains(d, want) {
			t.Errorf("Deployment lacks %q:\n%s", want, d)
		}
	}
}

func TestInstallValuesRedactSecrets(t *testing.T) {
	v := InstallValues{Cluster: "dev", GitToken: "s3cr3t-token", GitSSHKey: "-----BEGIN KEY", AgeKey: "AGE-SECRET-KEY-1"}
	for _, s := range []string{fmt.Sprint(v), fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v), fmt.Sprintf("%s", v)} {
		if strings.Contains(s, "s3cr3t") || strings.Contains(s, "BEGIN KEY") || strings.Contains(s, "AGE-SECRET") {
			t.Errorf("secret printed: %s", s)
		}
		if !strings.Contains(s, "dev") {
			t.Errorf("values not described: %s", s)
		}
	}
}

// TestInstall installs the agent chart into a real cluster twice (no change
// the second time), then with the Deployment, then the same again.
func TestInstall(t *testing.T) {
	c := newTestCluster(t, "agent-install")
	ctx := t.Context()
	a, err := NewApplier(c.Config, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cl := a.Client()
	revision := func() int {
		t.Helper()
		rel := findRelease(t, c, SystemNamespace, ReleaseName)
		if rel == nil {
			t.Fatal("agent release not listed")
		}
		return rel.Version
	}
	hostOnly := InstallValues{SkipDeployment: true, GitToken: "s3cr3t-token", Log: t.Logf}
	deployed := InstallValues{Version: "v0.3.0", Blueprint: "https://git.example/acme/blueprint.git",
		Environment: "prod", Cluster: "eu-1", GitToken: "s3cr3t-token", Log: t.Logf}

	steps := []struct {
		name         string
		values       InstallValues
		wantRevision int
		wantDeploy   bool
	}{
		{"install CRD, RBAC and Secret", hostOnly, 1, false},
		{"again: no change", hostOnly, 1, false},
		{"with the Deployment: upgrade", deployed, 2, true},
		{"again: no change", deployed, 2, true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			var before string
			sec := &corev1.Secret{}
			if err := cl.Get(ctx, client.ObjectKey{Namespace: SystemNamespace, Name: "rekindle-agent-credentials"}, sec); err == nil {
				before = sec.ResourceVersion
			}
			if err := Install(ctx, c.Config, s.values); err != nil {
				t.Fatal(err)
			}
			if got := revision(); got != s.wantRevision {
				t.Errorf("revision %d, want %d", got, s.wantRevision)
			}
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := cl.Get(ctx, client.ObjectKey{Name: "syncs.rekindle.dev"}, crd); err != nil {
				t.Errorf("Sync CRD: %v", err)
			}
			for _, o := range []client.Object{&corev1.ServiceAccount{}, &rbacv1.ClusterRole{}, &rbacv1.ClusterRoleBinding{}} {
				if err := cl.Get(ctx, client.ObjectKey{Namespace: SystemNamespace, Name: "rekindle-agent"}, o); err != nil {
					t.Errorf("%T: %v", o, err)
				}
			}
			if err := cl.Get(ctx, client.ObjectKey{Namespace: SystemNamespace, Name: "rekindle-agent-credentials"}, sec); err != nil {
				t.Fatal(err)
			}
			if string(sec.Data["git-token"]) != "s3cr3t-token" {
				t.Errorf("git-token = %q", sec.Data["git-token"])
			}
			if strings.HasPrefix(s.name, "again") && sec.ResourceVersion != before {
				t.Errorf("Secret changed by an identical install (%s -> %s)", before, sec.ResourceVersion)
			}
			err := cl.Get(ctx, client.ObjectKey{Namespace: SystemNamespace, Name: "rekindle-agent"}, &appsv1.Deployment{})
			if s.wantDeploy != (err == nil) {
				t.Errorf("Deployment present = %v, want %v", err == nil, s.wantDeploy)
			}
		})
	}

	t.Run("the agent's own Sync works next to the chart", func(t *testing.T) {
		if err := a.EnsureCRD(ctx); err != nil {
			t.Fatal(err)
		}
		if err := Install(ctx, c.Config, deployed); err != nil {
			t.Fatal(err)
		}
		if got := revision(); got != 2 {
			t.Errorf("revision %d after EnsureCRD, want 2", got)
		}
	})

	// Install leaves out Helm's client-side OpenAPI check for this chart
	// (releaseSpec.DisableOpenAPIValidation); this is that check, made by
	// the API server itself: strict field validation refuses an unknown or
	// duplicated field, which the default (Warn) would only warn about.
	t.Run("the chart's objects pass the API server's strict schema check", func(t *testing.T) {
		for _, v := range []InstallValues{hostOnly, deployed} {
			for ref, y := range renderAgentChart(t, v) {
				objs, err := utils.ReadObjects(strings.NewReader(y))
				if err != nil || len(objs) != 1 {
					t.Fatalf("%s: %v", ref, err)
				}
				o := objs[0]
				o.SetName(o.GetName() + "-schema-check")
				if err := cl.Create(ctx, o, client.DryRunAll, client.FieldValidation("Strict")); err != nil {
					t.Errorf("%s: %v", ref, err)
				}
			}
		}
	})
}
