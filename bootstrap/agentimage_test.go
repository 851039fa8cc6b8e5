package bootstrap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekindle-dev/rekindle/blueprints"
)

const imageBlueprint = `apiVersion: rekindle.dev/v1alpha1
kind: Blueprint
metadata: {name: t}
spec:
  environments:
    - name: dev
      clusters:
        - name: sim
          provider: kwok
        - name: real
          provider: kind
        - name: pinned
          provider: existing
          agent: {image: "registry.example/rekindle@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
        - name: remote
          provider: existing
`

func TestAgentImages(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, blueprints.FileName), []byte(imageBlueprint), 0o644); err != nil {
		t.Fatal(err)
	}
	repo, err := blueprints.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := repo.Blueprint.Environment("dev")
	const gitURL = "https://git.example/acme/blueprint.git"
	newRun := func(o Options) *run { return &run{opts: o, repo: repo, env: "dev"} }

	// A development build, a Git blueprint: the existing cluster has no
	// image; the kind cluster gets this binary's, loaded into its nodes.
	r := newRun(Options{Version: "dev", Source: blueprints.Source{Location: gitURL}})
	err = r.checkAgentImages(env, "")
	if !IsUsage(err) {
		t.Fatalf("dev build, existing cluster without agent.image: %v, want a usage error", err)
	}
	for _, want := range []string{"rekindle.yaml: spec.environments[0].clusters[3].agent.image", `cluster "remote"`, "rekindle agent image --push"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	for _, name := range []string{`"sim"`, `"pinned"`, `"real"`} {
		if strings.Contains(err.Error(), name) {
			t.Errorf("error names %s, a cluster that needs no image:\n%v", name, err)
		}
	}
	for _, only := range []string{"sim", "real", "pinned"} {
		if err := r.checkAgentImages(env, only); err != nil {
			t.Errorf("only cluster %s: %v", only, err)
		}
	}
	if err := r.checkAgentImages(env, "remote"); !IsUsage(err) {
		t.Errorf("only the existing cluster without an image: %v, want a usage error", err)
	}
	for i, want := range []bool{false, true, false, false} {
		if got := r.loadsOwnAgentImage(env.Clusters[i]); got != want {
			t.Errorf("cluster %s loads rekindle's own image = %t, want %t", env.Clusters[i].Name, got, want)
		}
	}
	if newRun(Options{AgentImage: "r.example/x:1"}).loadsOwnAgentImage(env.Clusters[1]) {
		t.Error("with --agent-image, the kind cluster still loads rekindle's own image")
	}
	if got := r.agentImageFor(env.Clusters[2]); !strings.HasPrefix(got, "registry.example/rekindle@sha256:") {
		t.Errorf("pinned cluster's image %q", got)
	}

	for name, o := range map[string]Options{
		"a release":           {Version: "v1.2.3", Source: blueprints.Source{Location: gitURL}},
		"--agent-image":       {Version: "dev", AgentImage: "127.0.0.1:5000/rekindle:dev", Source: blueprints.Source{Location: gitURL}},
		"a local blueprint":   {Version: "dev", Source: blueprints.Source{Location: dir}},
		"a rehearsal on kwok": {Version: "dev", Rehearse: "kwok", Source: blueprints.Source{Location: gitURL}},
		"a release candidate": {Version: "v1.3.0-rc.1", Source: blueprints.Source{Location: gitURL}},
	} {
		if err := newRun(o).checkAgentImages(env, ""); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}
	if got := newRun(Options{Version: "v1.2.3"}).agentImageFor(env.Clusters[1]); got != "ghcr.io/rekindle-dev/rekindle:v1.2.3" {
		t.Errorf("release image %q", got)
	}
	if got := newRun(Options{Version: "v1.2.3", AgentImage: "r.example/x:1"}).agentImageFor(env.Clusters[2]); got != "r.example/x:1" {
		t.Errorf("--agent-image does not win over agent.image: %q", got)
	}
	for _, v := range []string{"dev", "", "b4c71bf", "v0.1.0-3-gb4c71bf", "v0.1.0-dirty", "v0.1.0-3-gb4c71bf-dirty"} {
		if IsRelease(v) {
			t.Errorf("IsRelease(%q) = true", v)
		}
	}
	if err := newRun(Options{Version: "v1.2.3", AgentImage: "no tag here"}).checkAgentImages(env, ""); !IsUsage(err) || !strings.Contains(err.Error(), "--agent-image") {
		t.Errorf("bad --agent-image: %v", err)
	}
}
