package agent

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	sigsyaml "sigs.k8s.io/yaml"
)

// labelDigest is a Helm release label: the digest of the chart files and
// values a release was made from. A release already at that digest is left alone.
const labelDigest = "rekindle.dev/digest"

// helmConfig makes an action.Configuration for namespace, storing releases in
// Secrets as the helm CLI does (so `helm list -A` shows them).
func helmConfig(cfg *rest.Config, namespace string, log func(string, ...any)) (*action.Configuration, error) {
	getter, err := newRESTGetter(cfg, namespace)
	if err != nil {
		return nil, err
	}
	ac := new(action.Configuration)
	if err := ac.Init(getter, namespace, "secret", func(format string, v ...any) { log("helm: "+format, v...) }); err != nil {
		return nil, fmt.Errorf("helm configuration: %w", err)
	}
	return ac, nil
}

// releaseDigest identifies a chart (with its dependencies) and values.
func releaseDigest(ch *chart.Chart, values map[string]any) (string, error) {
	h := sha256.New()
	var walk func(c *chart.Chart)
	walk = func(c *chart.Chart) {
		files := append([]*chart.File(nil), c.Raw...)
		sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
		fmt.Fprintf(h, "chart %s %s\n", c.Name(), c.Metadata.Version)
		for _, f := range files {
			fmt.Fprintf(h, "%s %d\n", f.Name, len(f.Data))
			h.Write(f.Data)
		}
		for _, d := range c.Dependencies() {
			walk(d)
		}
	}
	walk(ch)
	v, err := json.Marshal(values)
	if err != nil {
		return "", fmt.Errorf("values: %w", err)
	}
	h.Write(v)
	return hex.EncodeToString(h.Sum(nil))[:40], nil
}

// releaseSpec is a release to install or upgrade.
type releaseSpec struct {
	Name, Namespace string
	Chart           *chart.Chart
	Values          map[string]any
	// Labels are added to every top-level object of the release.
	Labels  map[string]string
	Timeout time.Duration
	// DisableOpenAPIValidation leaves out Helm's client-side check of the
	// manifests against the cluster's OpenAPI schema (helm install
	// --disable-openapi-validation), for rekindle's own chart only: it is
	// tested against the schema, and the check fetches and decodes the
	// cluster's OpenAPI v3 documents (about 0.13 CPU-seconds per install
	// here, and more in the API server that builds them), once per new
	// cluster. The API server still validates every object it stores.
	DisableOpenAPIValidation bool
}

// upsertRelease installs the release, upgrades it when its chart or values
// changed, and leaves it alone otherwise. It returns the action taken and the
// release revision.
func upsertRelease(ctx context.Context, cfg *rest.Config, spec releaseSpec, log func(string, ...any)) (string, int, error) {
	ac, err := helmConfig(cfg, spec.Namespace, log)
	if err != nil {
		return "", 0, err
	}
	digest, err := releaseDigest(spec.Chart, spec.Values)
	if err != nil {
		return "", 0, err
	}
	labels := map[string]string{labelDigest: digest}
	var post *labelPostRenderer
	if len(spec.Labels) > 0 {
		post = &labelPostRenderer{labels: spec.Labels}
	}

	cur, err := action.NewGet(ac).Run(spec.Name)
	switch {
	case errors.Is(err, driver.ErrReleaseNotFound):
		in := action.NewInstall(ac)
		in.ReleaseName = spec.Name
		in.Namespace = spec.Namespace
		in.CreateNamespace = true
		in.Wait = false // health is judged with kstatus on the rendered objects
		in.Timeout = spec.Timeout
		in.Labels = labels
		in.DisableOpenAPIValidation = spec.DisableOpenAPIValidation
		if post != nil {
			in.PostRenderer = post
		}
		rel, err := in.RunWithContext(ctx, spec.Chart, spec.Values)
		if err != nil {
			return "", 0, fmt.Errorf("helm install %s/%s: %w", spec.Namespace, spec.Name, err)
		}
		return "installed", rel.Version, nil
	case err != nil:
		return "", 0, fmt.Errorf("helm get %s/%s: %w", spec.Namespace, spec.Name, err)
	}
	if cur.Info != nil && cur.Info.Status.IsPending() {
		// An install, upgrade or rollback that never finished: the process
		// running it was killed (a run holds its environment's lock and one
		// agent runs per cluster, so nothing else is running it). Helm
		// refuses every later operation on a pending release; mark it
		// failed, as Flux's helm-controller does, and upgrade below.
		log("helm release %s/%s was left %s by an interrupted run: marking it failed, then upgrading", spec.Namespace, spec.Name, cur.Info.Status)
		cur.SetStatus(release.StatusFailed, "interrupted: the process running it stopped before it finished")
		if err := ac.Releases.Update(cur); err != nil {
			return "", 0, fmt.Errorf("helm release %s/%s: mark the interrupted revision %d failed: %w", spec.Namespace, spec.Name, cur.Version, err)
		}
	}
	if cur.Info != nil && cur.Info.Status == release.StatusDeployed && cur.Labels[labelDigest] == digest {
		return "unchanged", cur.Version, nil
	}
	up := action.NewUpgrade(ac)
	up.Namespace = spec.Namespace
	up.Wait = false
	up.Timeout = spec.Timeout
	up.MaxHistory = 10
	up.Labels = labels
	up.ResetValues = true
	up.DisableOpenAPIValidation = spec.DisableOpenAPIValidation
	if post != nil {
		up.PostRenderer = post
	}
	rel, err := up.RunWithContext(ctx, spec.Name, spec.Chart, spec.Values)
	if err != nil {
		return "", 0, fmt.Errorf("helm upgrade %s/%s: %w", spec.Namespace, spec.Name, err)
	}
	return "upgraded", rel.Version, nil
}

// uninstallRelease removes a release; a missing one is not an error.
func uninstallRelease(cfg *rest.Config, name, namespace string, timeout time.Duration, log func(string, ...any)) error {
	ac, err := helmConfig(cfg, namespace, log)
	if err != nil {
		return err
	}
	un := action.NewUninstall(ac)
	un.IgnoreNotFound = true
	un.Timeout = timeout
	if _, err := un.Run(name); err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		return fmt.Errorf("helm uninstall %s/%s: %w", namespace, name, err)
	}
	return nil
}

// labelPostRenderer adds labels to the top-level objects Helm rendered, so
// release objects carry rekindle.dev/cluster and rekindle.dev/workload too.
type labelPostRenderer struct{ labels map[string]string }

func (p *labelPostRenderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	r := yaml.NewYAMLReader(bufio.NewReader(in))
	var out bytes.Buffer
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("post-render: %w", err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var obj map[string]any
		if err := sigsyaml.Unmarshal(doc, &obj); err != nil {
			return nil, fmt.Errorf("post-render: %w", err)
		}
		if obj == nil {
			continue
		}
		if md, ok := obj["metadata"].(map[string]any); ok {
			l, _ := md["labels"].(map[string]any)
			if l == nil {
				l = map[string]any{}
			}
			for k, v := range p.labels {
				l[k] = v
			}
			md["labels"] = l
		}
		b, err := sigsyaml.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("post-render: %w", err)
		}
		out.WriteString("---\n")
		out.Write(b)
	}
	return &out, nil
}
