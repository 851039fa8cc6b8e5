package bootstrap

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/rekindle-dev/rekindle/blueprints"
)

var (
	resourceType = regexp.MustCompile(`(?m)^\s*(?:resource|data)\s+"([A-Za-z0-9_-]+)"`)
	outputRef    = regexp.MustCompile(`\.Infra\.Outputs\.([A-Za-z0-9_]+)`)
)

// cloudResources lists the resource and data source types of the
// environment's Terraform module that need a provider download (anything but
// Terraform's built-in terraform_data and terraform_remote_state).
func (r *run) cloudResources() []string {
	env, _ := r.repo.Blueprint.Environment(r.env)
	if env.Infra == nil || env.Infra.Terraform == nil {
		return nil
	}
	dir, err := r.repo.Path(env.Infra.Terraform.Dir)
	if err != nil {
		return nil
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
	seen := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, m := range resourceType.FindAllStringSubmatch(string(data), -1) {
			if !strings.HasPrefix(m[1], "terraform_") {
				seen[m[1]] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// placeholderOutputs gives every output a cluster field refers to a
// name-safe stand-in ("apps_cluster" becomes "apps-cluster").
func placeholderOutputs(repo *blueprints.Repo, env string) map[string]any {
	e, err := repo.Blueprint.Environment(env)
	if err != nil {
		return nil
	}
	out := map[string]any{}
	for _, c := range e.Clusters {
		for _, s := range []string{c.Name, kubeconfigOf(c), contextOf(c)} {
			for _, m := range outputRef.FindAllStringSubmatch(s, -1) {
				out[m[1]] = strings.ReplaceAll(strings.ToLower(m[1]), "_", "-")
			}
		}
	}
	return out
}

func kubeconfigOf(c blueprints.Cluster) string {
	if c.Existing == nil {
		return ""
	}
	return c.Existing.Kubeconfig
}

func contextOf(c blueprints.Cluster) string {
	if c.Existing == nil {
		return ""
	}
	return c.Existing.Context
}
