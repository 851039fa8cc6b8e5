package flux

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fluxcd/pkg/ssa"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
)

// Credentials are rekindle's own Git credentials, handed to Flux in the
// Secret its GitRepository names (`flux-system` as bootstrap writes it).
type Credentials struct {
	Username, Password string
	SSHKey, KnownHosts []byte
}

// Empty reports whether there are no credentials at all.
func (c Credentials) Empty() bool { return c.Password == "" && len(c.SSHKey) == 0 }

// String never shows a secret.
func (c Credentials) String() string {
	switch {
	case len(c.SSHKey) > 0:
		return "SSH key <redacted>"
	case c.Password != "":
		return "username/password <redacted>"
	}
	return "none"
}

// GoString never shows a secret either (%#v).
func (c Credentials) GoString() string { return "flux.Credentials{" + c.String() + "}" }

// InstallOptions say how Flux is installed in one cluster.
type InstallOptions struct {
	Layout *Layout
	// URL is the Git URL Flux fetches the repo from: the one rekindle
	// fetched, so that rekindle's credentials fit. Empty keeps gotk-sync's.
	URL string
	// Commit pins the GitRepository (spec.ref.commit); empty keeps its ref.
	Commit string
	Auth   Credentials
	// AgeKey is the age identity for the decryption Secrets.
	AgeKey string
	// SkipDeployments leaves out the controllers' Deployments, whose pods
	// would only be simulated: the caller runs the controllers as host
	// processes instead.
	SkipDeployments bool
	// Log reports progress; it is never given a secret.
	Log func(format string, args ...any)
}

// String never shows a secret.
func (o InstallOptions) String() string {
	return fmt.Sprintf("{URL:%s Commit:%.12s Auth:%s AgeKey:%v SkipDeployments:%v}", o.URL, o.Commit, o.Auth, o.AgeKey != "", o.SkipDeployments)
}

// GoString never shows a secret either (%#v).
func (o InstallOptions) GoString() string { return "flux.InstallOptions" + o.String() }

// Install applies Flux to the cluster with server-side apply: its CRDs and
// Namespace first (waiting until the CRDs are Established), then the
// Secrets (the age key under each name the Kustomizations decrypt with, and
// the Git credentials), then the rest of the components (the controllers'
// Deployments last, so the keys are there before they start), and finally
// gotk-sync's GitRepository, pinned to the commit, and root Kustomization.
func Install(ctx context.Context, cfg *rest.Config, o InstallOptions) error {
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	k, err := connect(cfg)
	if err != nil {
		return err
	}
	var first, rest, deployments []*unstructured.Unstructured
	for _, obj := range o.Layout.Components {
		switch obj.GetKind() {
		case "CustomResourceDefinition", "Namespace":
			first = append(first, obj)
		case "Deployment":
			if !o.SkipDeployments {
				deployments = append(deployments, obj)
			}
		default:
			rest = append(rest, obj)
		}
	}
	applyOpts := ssa.DefaultApplyOptions()
	applyOpts.Force = true
	applyOpts.WaitTimeout = 2 * time.Minute
	if _, err := k.rm.ApplyAllStaged(ctx, first, applyOpts); err != nil {
		return fmt.Errorf("apply Flux CRDs: %w", err)
	}
	o.Log("%d CRD(s) and Namespace(s) applied and established", len(first))
	source := o.Layout.Source().DeepCopy()
	secrets, err := secretsFor(o, source)
	if err != nil {
		return err
	}
	if _, err := k.rm.ApplyAll(ctx, secrets, applyOpts); err != nil {
		return fmt.Errorf("apply Flux Secrets: %w", err)
	}
	for _, s := range secrets {
		o.Log("Secret %s/%s placed before the controllers start", s.GetNamespace(), s.GetName())
	}
	if _, err := k.rm.ApplyAll(ctx, rest, applyOpts); err != nil {
		return fmt.Errorf("apply Flux components: %w", err)
	}
	if len(deployments) > 0 {
		if _, err := k.rm.ApplyAll(ctx, deployments, applyOpts); err != nil {
			return fmt.Errorf("apply Flux controllers: %w", err)
		}
	}
	if o.URL != "" {
		if err := unstructured.SetNestedField(source.Object, o.URL, "spec", "url"); err != nil {
			return err
		}
	}
	if o.Commit != "" {
		if err := unstructured.SetNestedMap(source.Object, map[string]any{"commit": o.Commit}, "spec", "ref"); err != nil {
			return err
		}
	}
	sync := []*unstructured.Unstructured{source, o.Layout.Root().DeepCopy()}
	if _, err := k.rm.ApplyAll(ctx, sync, applyOpts); err != nil {
		return fmt.Errorf("apply gotk-sync: %w", err)
	}
	o.Log("GitRepository %s/%s at commit %.12s and Kustomization %s/%s applied", source.GetNamespace(), source.GetName(), o.Commit,
		o.Layout.Root().GetNamespace(), o.Layout.Root().GetName())
	return nil
}

// secretsFor builds the Secrets Flux needs before it starts.
func secretsFor(o InstallOptions, source *unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, ref := range o.Layout.DecryptionSecrets {
		if o.AgeKey == "" {
			return nil, fmt.Errorf("a Kustomization decrypts SOPS files with Secret %s, but no age key is set (SOPS_AGE_KEY_FILE, SOPS_AGE_KEY or secrets.sops.ageKeyFile)", ref)
		}
		out = append(out, secret(ref.Namespace, ref.Name, map[string]any{"identity.agekey": o.AgeKey}))
	}
	name, _, _ := unstructured.NestedString(source.Object, "spec", "secretRef", "name")
	if name == "" {
		return out, nil
	}
	ns := source.GetNamespace()
	if ns == "" {
		ns = Namespace
	}
	if o.Auth.Empty() {
		// A public repo: an empty Secret, so that the GitRepository (which
		// the root Kustomization re-applies from Git with its secretRef)
		// does not wait for a Secret nobody writes; no fields, no auth.
		o.Log("no Git credentials: Secret %s/%s is empty, GitRepository %s fetches without auth", ns, name, source.GetName())
		return append(out, secret(ns, name, map[string]any{})), nil
	}
	data := map[string]any{}
	url := o.URL
	if url == "" {
		url, _, _ = unstructured.NestedString(source.Object, "spec", "url")
	}
	if len(o.Auth.SSHKey) > 0 && strings.HasPrefix(url, "ssh://") {
		data["identity"] = string(o.Auth.SSHKey)
		if len(o.Auth.KnownHosts) > 0 {
			data["known_hosts"] = string(o.Auth.KnownHosts)
		}
	} else {
		user := o.Auth.Username
		if user == "" {
			user = "git" // what `flux bootstrap` uses with a token
		}
		data["username"], data["password"] = user, o.Auth.Password
	}
	return append(out, secret(ns, name, data)), nil
}

func secret(ns, name string, data map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
		"metadata":   map[string]any{"name": name, "namespace": ns, "labels": map[string]any{"app.kubernetes.io/managed-by": "rekindle"}},
		"stringData": data,
	}}
}
