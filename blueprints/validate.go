package blueprints

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"

	"helm.sh/helm/v3/pkg/chartutil"
)

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// validate checks what the schema cannot: required fields, names, paths,
// providers and dependsOn. Every problem is reported.
func (r *Repo) validate(p *problems) {
	bp := r.Blueprint
	if bp.APIVersion != APIVersion {
		p.add("apiVersion", "must be %q, got %q", APIVersion, bp.APIVersion)
	}
	if bp.Kind != Kind {
		p.add("kind", "must be %q, got %q", Kind, bp.Kind)
	}
	if bp.Metadata.Name == "" {
		p.add("metadata.name", "is required")
	}
	if len(bp.Spec.Environments) == 0 {
		p.add("spec.environments", "at least one environment is required")
	}
	envNames := map[string]bool{}
	for i := range bp.Spec.Environments {
		r.validateEnvironment(p, fmt.Sprintf("spec.environments[%d]", i), &bp.Spec.Environments[i], envNames)
	}
}

func (r *Repo) validateEnvironment(p *problems, path string, env *Environment, seen map[string]bool) {
	checkName(p, path+".name", env.Name, seen)
	if env.Infra != nil && env.Infra.Terraform != nil {
		tf := env.Infra.Terraform
		if tf.Dir == "" {
			p.add(path+".infra.terraform.dir", "is required")
		} else {
			r.checkDir(p, path+".infra.terraform.dir", tf.Dir)
		}
	}
	if env.Recovery != nil && env.Recovery.RTO.Duration < 0 {
		p.add(path+".recovery.rto", "must not be negative")
	}
	hasInfra := env.Infra != nil && env.Infra.Terraform != nil
	if len(env.Clusters) == 0 {
		p.add(path+".clusters", "at least one cluster is required")
	}
	clusterNames := map[string]bool{}
	for i := range env.Clusters {
		c := &env.Clusters[i]
		cp := fmt.Sprintf("%s.clusters[%d]", path, i)
		if strings.Contains(c.Name, "{{") {
			checkTemplate(p, cp+".name", c.Name, hasInfra)
		} else {
			checkName(p, cp+".name", c.Name, clusterNames)
		}
		r.validateCluster(p, cp, c, env, hasInfra)
	}
}

func (r *Repo) validateCluster(p *problems, path string, c *Cluster, env *Environment, hasInfra bool) {
	switch c.Provider {
	case "":
		p.add(path+".provider", "is required (one of %s)", strings.Join(Providers, ", "))
	case "kwok", "kind", "existing", "capi":
	default:
		p.add(path+".provider", "unknown provider %q (want one of %s)", c.Provider, strings.Join(Providers, ", "))
	}
	if c.KubernetesVersion != "" {
		if _, err := chartutil.ParseKubeVersion(c.KubernetesVersion); err != nil {
			p.add(path+".kubernetesVersion", "%q is not a Kubernetes version like v1.36.3", c.KubernetesVersion)
		}
	}
	if c.Kwok != nil && c.Kwok.Nodes < 0 {
		p.add(path+".kwok.nodes", "must not be negative")
	}
	if c.Kind != nil && c.Kind.Config != "" {
		r.checkFile(p, path+".kind.config", c.Kind.Config)
	}
	if c.Provider == "capi" {
		if c.CAPI == nil {
			p.add(path+".capi", "is required for provider capi")
		} else {
			if c.CAPI.Management == "" {
				p.add(path+".capi.management", "is required: the name of another cluster of this environment")
			} else if c.CAPI.Management == c.Name || !slices.ContainsFunc(env.Clusters, func(o Cluster) bool { return o.Name == c.CAPI.Management }) {
				p.add(path+".capi.management", "%q is not another cluster of environment %q", c.CAPI.Management, env.Name)
			} else if clusterIndex(env, c.CAPI.Management) > clusterIndex(env, c.Name) {
				p.add(path+".capi.management", "%q must come before %q in the list of clusters: clusters are created in order", c.CAPI.Management, c.Name)
			}
			if c.CAPI.Manifests == "" {
				p.add(path+".capi.manifests", "is required")
			} else {
				r.checkDir(p, path+".capi.manifests", c.CAPI.Manifests)
			}
			validateCAPI(p, path+".capi", c.CAPI)
			if c.CAPI.ClusterctlConfig != "" {
				r.checkFile(p, path+".capi.clusterctlConfig", c.CAPI.ClusterctlConfig)
			}
			if c.CAPI.Repository != "" {
				r.checkDir(p, path+".capi.repository", c.CAPI.Repository)
			}
		}
	}
	for i, d := range c.DependsOn {
		dp := fmt.Sprintf("%s.dependsOn[%d]", path, i)
		switch {
		case d == c.Name:
			p.add(dp, "cluster %q depends on itself", c.Name)
		case !slices.ContainsFunc(env.Clusters, func(o Cluster) bool { return o.Name == d }):
			p.add(dp, "%q is not a cluster of environment %q", d, env.Name)
		case clusterIndex(env, d) > clusterIndex(env, c.Name):
			p.add(dp, "%q must come before %q in the list of clusters", d, c.Name)
		}
	}
	if c.Existing != nil {
		checkTemplate(p, path+".existing.kubeconfig", c.Existing.Kubeconfig, hasInfra)
		checkTemplate(p, path+".existing.context", c.Existing.Context, hasInfra)
	}
	if c.Agent != nil && c.Agent.Interval.Duration < 0 {
		p.add(path+".agent.interval", "must not be negative")
	}
	if c.Agent != nil {
		switch c.Agent.RBAC {
		case "", AgentRBACClusterAdmin:
		case AgentRBACScoped:
			if c.Allow == nil || len(c.Allow.Namespaces)+len(c.Allow.ClusterScopedKinds) == 0 {
				p.add(path+".agent.rbac", "scoped needs an allow list (allow.namespaces, allow.clusterScopedKinds): the agent's rights are computed from it")
			}
		default:
			p.add(path+".agent.rbac", "unknown mode %q (want %s or %s)", c.Agent.RBAC, AgentRBACClusterAdmin, AgentRBACScoped)
		}
		if c.Agent.Image != "" {
			if err := CheckImageRef(c.Agent.Image); err != nil {
				p.add(path+".agent.image", "%v", err)
			}
		}
	}
	r.validateAgentType(p, path, c)
	names := map[string]bool{}
	for i := range c.Workloads {
		r.validateWorkload(p, fmt.Sprintf("%s.workloads[%d]", path, i), &c.Workloads[i], names)
	}
	checkDependsOn(p, path, c.Workloads)
}

func (r *Repo) validateWorkload(p *problems, path string, w *Workload, seen map[string]bool) {
	checkName(p, path+".name", w.Name, seen)
	switch {
	case w.Restore != nil && (w.Path != "" || w.Helm != nil):
		p.add(path, "has restore and also path or helm; a workload has one source")
	case w.Restore != nil:
		validateRestore(p, path, w.Restore)
	case w.Path == "" && w.Helm == nil:
		p.add(path, "needs either path (a YAML directory or kustomization), helm (a chart) or restore (a Velero backup)")
	case w.Path != "" && w.Helm != nil:
		p.add(path, "has both path and helm; a workload has one source")
	case w.Path != "":
		r.checkDir(p, path+".path", w.Path)
	case isRemoteChart(w.Helm):
		validateRemoteChart(p, path+".helm", w.Helm)
		if w.Helm.CAFile != "" {
			r.checkFile(p, path+".helm.caFile", w.Helm.CAFile)
		}
		r.validateHelmCommon(p, path, w)
	default:
		if w.Helm.Version != "" {
			p.add(path+".helm.version", "is for charts from a Helm repository (helm.repo) or oci://; a chart in the repo has the version of its Chart.yaml")
		}
		if w.Helm.CAFile != "" {
			p.add(path+".helm.caFile", "is for charts from a Helm repository (helm.repo) or oci://")
		}
		if w.Helm.Chart == "" {
			p.add(path+".helm.chart", "is required")
		} else if abs, err := r.Path(w.Helm.Chart); err != nil {
			p.add(path+".helm.chart", "%v", err)
		} else if !isChart(abs) {
			p.add(path+".helm.chart", "%q is not a Helm chart (no Chart.yaml, and not a .tgz)", w.Helm.Chart)
		}
		r.validateHelmCommon(p, path, w)
	}
	if w.Namespace != "" && !dnsLabel.MatchString(w.Namespace) {
		p.add(path+".namespace", "%q is not a valid namespace name", w.Namespace)
	}
}

func (r *Repo) validateHelmCommon(p *problems, path string, w *Workload) {
	for i, f := range w.Helm.ValuesFiles {
		r.checkFile(p, fmt.Sprintf("%s.helm.valuesFiles[%d]", path, i), f)
	}
	if w.Helm.Namespace != "" && !dnsLabel.MatchString(w.Helm.Namespace) {
		p.add(path+".helm.namespace", "%q is not a valid namespace name", w.Helm.Namespace)
	}
}

func isChart(p string) bool {
	if strings.HasSuffix(p, ".tgz") {
		fi, err := os.Stat(p)
		return err == nil && fi.Mode().IsRegular()
	}
	_, err := os.Stat(filepath.Join(p, "Chart.yaml"))
	return err == nil
}

// checkDependsOn reports unknown names, self references and cycles.
func checkDependsOn(p *problems, path string, ws []Workload) {
	index := map[string]int{}
	for i, w := range ws {
		index[w.Name] = i
	}
	for i, w := range ws {
		for j, d := range w.DependsOn {
			dp := fmt.Sprintf("%s.workloads[%d].dependsOn[%d]", path, i, j)
			switch _, ok := index[d]; {
			case d == w.Name:
				p.add(dp, "workload %q depends on itself", w.Name)
			case !ok:
				p.add(dp, "unknown workload %q (workloads of this cluster: %s)", d, strings.Join(workloadNames(ws), ", "))
			}
		}
	}
	if cycle := findCycle(ws, index); cycle != nil {
		p.add(fmt.Sprintf("%s.workloads[%d].dependsOn", path, index[cycle[0]]), "dependsOn cycle: %s", strings.Join(cycle, " -> "))
	}
}

// findCycle returns one dependsOn cycle as a list of names (first == last), or nil.
func findCycle(ws []Workload, index map[string]int) []string {
	const (
		unvisited = iota
		active
		done
	)
	state := make([]int, len(ws))
	var stack []string
	var visit func(i int) []string
	visit = func(i int) []string {
		state[i] = active
		stack = append(stack, ws[i].Name)
		for _, d := range ws[i].DependsOn {
			j, ok := index[d]
			if !ok || j == i {
				continue
			}
			switch state[j] {
			case active:
				start := slices.Index(stack, d)
				return append(slices.Clone(stack[start:]), d)
			case unvisited:
				if c := visit(j); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
		return nil
	}
	for i := range ws {
		if state[i] == unvisited {
			if c := visit(i); c != nil {
				return c
			}
		}
	}
	return nil
}

func workloadNames(ws []Workload) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Name
	}
	return out
}

func checkName(p *problems, path, name string, seen map[string]bool) {
	switch {
	case name == "":
		p.add(path, "is required")
	case !dnsLabel.MatchString(name) || len(name) > 63:
		p.add(path, "%q is not a valid name (lowercase letters, digits and '-', at most 63 characters)", name)
	case seen[name]:
		p.add(path, "duplicate name %q", name)
	}
	seen[name] = true
}

// checkTemplate checks a field that may use {{ .Infra.Outputs.NAME }}.
func checkTemplate(p *problems, path, s string, hasInfra bool) {
	if !strings.Contains(s, "{{") {
		return
	}
	if _, err := template.New(path).Option("missingkey=error").Parse(s); err != nil {
		p.add(path, "bad template: %v", err)
		return
	}
	if !hasInfra {
		p.add(path, "uses a template but the environment has no infra.terraform to provide outputs")
	}
}

func (r *Repo) checkDir(p *problems, path, rel string) {
	abs, err := r.Path(rel)
	if err != nil {
		p.add(path, "%v", err)
		return
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		p.add(path, "%q is not a directory", rel)
	}
}

func (r *Repo) checkFile(p *problems, path, rel string) {
	abs, err := r.Path(rel)
	if err != nil {
		p.add(path, "%v", err)
		return
	}
	if fi, err := os.Stat(abs); err != nil || !fi.Mode().IsRegular() {
		p.add(path, "%q is not a regular file", rel)
	}
}

// clusterIndex is the position of the cluster called name in env, or -1.
func clusterIndex(env *Environment, name string) int {
	return slices.IndexFunc(env.Clusters, func(o Cluster) bool { return o.Name == name })
}

// capiProvider is a clusterctl provider pinned to a version: name:vX.Y.Z.
var capiProvider = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?:v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$`)

// validateCAPI checks the namespace and that every provider is pinned.
func validateCAPI(p *problems, path string, c *CAPICluster) {
	if c.Namespace != "" && !dnsLabel.MatchString(c.Namespace) {
		p.add(path+".namespace", "%q is not a valid namespace name", c.Namespace)
	}
	if c.Providers == nil {
		return
	}
	check := func(field, v string) {
		if !capiProvider.MatchString(v) {
			p.add(field, "%q must be name:version with a pinned version, like kubeadm:v1.14.2", v)
		}
	}
	if c.Providers.Core != "" {
		check(path+".providers.core", c.Providers.Core)
	}
	for _, l := range []struct {
		name string
		list []string
	}{{"bootstrap", c.Providers.Bootstrap}, {"controlPlane", c.Providers.ControlPlane}, {"infrastructure", c.Providers.Infrastructure}} {
		for i, v := range l.list {
			check(fmt.Sprintf("%s.providers.%s[%d]", path, l.name, i), v)
		}
	}
}
