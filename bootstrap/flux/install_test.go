package flux

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// The Secrets Flux gets from rekindle's credentials: the age key under each
// decryption secretRef, and the GitRepository's Secret shaped as
// source-controller reads it (username/password for HTTPS, identity and
// known_hosts for SSH, empty without credentials). No String form shows a
// secret.
func TestSecretsFor(t *testing.T) {
	source := func(url string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
			"metadata": map[string]any{"name": "flux-system", "namespace": Namespace},
			"spec":     map[string]any{"url": url, "secretRef": map[string]any{"name": "flux-system"}},
		}}
	}
	layout := &Layout{DecryptionSecrets: []types.NamespacedName{{Namespace: Namespace, Name: "sops-age"}, {Namespace: "apps", Name: "team-key"}}}
	const key, token, sshKey = "AGE-SECRET-KEY-1SECRET", "tok-secret", "-----BEGIN OPENSSH PRIVATE KEY-----secret"
	data := func(s *unstructured.Unstructured) map[string]any {
		m, _, _ := unstructured.NestedMap(s.Object, "stringData")
		return m
	}
	for _, c := range []struct {
		name string
		o    InstallOptions
		url  string
		want map[string]any
	}{
		{"token over https", InstallOptions{Auth: Credentials{Password: token}}, "https://git.example/org/fleet", map[string]any{"username": "git", "password": token}},
		{"basic auth", InstallOptions{Auth: Credentials{Username: "bot", Password: token}}, "http://127.0.0.1:8080/org/fleet", map[string]any{"username": "bot", "password": token}},
		{"ssh", InstallOptions{Auth: Credentials{SSHKey: []byte(sshKey), KnownHosts: []byte("git.example ssh-ed25519 AAAA")}}, "ssh://git@git.example/org/fleet", map[string]any{"identity": sshKey, "known_hosts": "git.example ssh-ed25519 AAAA"}},
		{"public", InstallOptions{}, "https://git.example/org/fleet", map[string]any{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := c.o
			o.Layout, o.AgeKey, o.Log = layout, key, t.Logf
			secrets, err := secretsFor(o, source(c.url))
			if err != nil || len(secrets) != 3 {
				t.Fatalf("secretsFor = %d secrets, %v", len(secrets), err)
			}
			for i, ref := range layout.DecryptionSecrets {
				if secrets[i].GetNamespace() != ref.Namespace || secrets[i].GetName() != ref.Name || data(secrets[i])["identity.agekey"] != key {
					t.Errorf("decryption Secret %d = %s/%s %v", i, secrets[i].GetNamespace(), secrets[i].GetName(), data(secrets[i]))
				}
			}
			git := secrets[2]
			if git.GetName() != "flux-system" || fmt.Sprint(data(git)) != fmt.Sprint(c.want) {
				t.Errorf("Git Secret %s = %v, want %v", git.GetName(), data(git), c.want)
			}
			for _, s := range []string{o.String(), fmt.Sprintf("%v %+v %#v %#v", o, o.Auth, o, o.Auth)} {
				for _, v := range []string{key, token, sshKey} {
					if strings.Contains(s, v) {
						t.Errorf("%q shows a secret", s)
					}
				}
			}
		})
	}
	if _, err := secretsFor(InstallOptions{Layout: layout, Log: t.Logf}, source("https://git.example/x")); err == nil || !strings.Contains(err.Error(), "flux-system/sops-age") {
		t.Errorf("no age key: %v, want an error naming the Secret", err)
	}
}
