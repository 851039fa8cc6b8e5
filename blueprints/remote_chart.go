package blueprints

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
)

// isRemoteChart reports whether the chart comes from a Helm repository or an OCI registry.
func isRemoteChart(h *HelmWorkload) bool {
	return h.Repo != "" || strings.HasPrefix(h.Chart, "oci://")
}

// validateRemoteChart checks helm.repo, helm.chart and helm.version of a
// chart from a Helm repository or an OCI registry, without network.
func validateRemoteChart(p *problems, path string, h *HelmWorkload) {
	oci := strings.HasPrefix(h.Chart, "oci://")
	switch {
	case h.Repo != "" && oci:
		p.add(path+".repo", "is for Helm repositories; an oci:// chart names its registry itself")
	case h.Repo != "":
		u, err := url.Parse(h.Repo)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			p.add(path+".repo", "%q must be an https:// Helm repository URL", redactURL(h.Repo))
		} else if u.User != nil {
			p.add(path+".repo", "must not hold credentials; they come from the environment (see docs/blueprint.md)")
		}
		if h.Chart == "" || strings.Contains(h.Chart, "/") {
			p.add(path+".chart", "%q must be the chart's name in the repository", h.Chart)
		}
	default:
		u, err := url.Parse(h.Chart)
		if err != nil || u.Host == "" || strings.Trim(u.Path, "/") == "" {
			p.add(path+".chart", "%q must be oci://registry/path/name", h.Chart)
		} else if u.User != nil {
			p.add(path+".chart", "must not hold credentials; they come from Docker's config (see docs/blueprint.md)")
		} else if strings.Contains(path2last(u.Path), ":") {
			p.add(path+".chart", "%q: give the version in helm.version, not as a tag", h.Chart)
		}
	}
	if h.Version != "" {
		if _, err := semver.NewConstraint(h.Version); err != nil {
			p.add(path+".version", "%q is not a version or semver range: %v", h.Version, err)
		}
	}
}

func path2last(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

// redactURL drops the user information of a URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}

// remoteChart names one chart version to fetch.
type remoteChart struct {
	// repo is an https Helm repository, or "" for OCI.
	repo string
	// name is the chart's name in repo; ref the oci:// reference.
	name, ref string
	// version is an exact version or a range ("" for the latest stable).
	version string
}

func (rc remoteChart) String() string {
	if rc.repo != "" {
		return fmt.Sprintf("chart %q from %s", rc.name, redactURL(rc.repo))
	}
	return redactURL(rc.ref)
}

// fetchedChart is a chart archive from the cache.
type fetchedChart struct {
	data    []byte
	path    string
	digest  string
	version string
}

// chartFetcher fetches remote charts through the cache.
type chartFetcher struct {
	cache     *chartCache
	transport *http.Transport
}

func (r *Repo) newChartFetcher(h *HelmWorkload) (*chartFetcher, error) {
	cache, err := r.chartCache()
	if err != nil {
		return nil, err
	}
	caFile := ""
	if h != nil && h.CAFile != "" {
		if caFile, err = r.Path(h.CAFile); err != nil {
			return nil, fmt.Errorf("helm.caFile: %w", err)
		}
	}
	tr, err := chartTransport(caFile)
	if err != nil {
		return nil, err
	}
	return &chartFetcher{cache: cache, transport: tr}, nil
}

// fetchChart fetches a workload's remote chart (once: later renders find
// it in the cache by digest), adds the dependencies it does not vendor,
// and loads it.
func (r *Repo) fetchChart(ctx context.Context, h *HelmWorkload) (*loadedChart, error) {
	f, err := r.newChartFetcher(h)
	if err != nil {
		return nil, err
	}
	src := remoteChart{repo: h.Repo, name: h.Chart, version: h.Version}
	if h.Repo == "" {
		src = remoteChart{ref: h.Chart, version: h.Version}
	}
	fc, err := f.fetch(ctx, src)
	if err != nil {
		return nil, err
	}
	ch, err := loader.LoadArchive(bytes.NewReader(fc.data))
	if err != nil {
		return nil, fmt.Errorf("load %s version %s: %w", src, fc.version, err)
	}
	lc := &loadedChart{chart: ch, path: fc.path, repo: redactURL(strings.TrimSuffix(h.Repo, "/")), digest: fc.digest}
	if h.Repo == "" {
		lc.repo = redactURL(h.Chart)
	}
	if err := f.addDependencies(ctx, lc, fc.digest); err != nil {
		return nil, fmt.Errorf("%s version %s: %w", src, fc.version, err)
	}
	return lc, nil
}

// fetch returns the archive of src, from the cache when an exact version
// was fetched before, else resolving the version and downloading it.
func (f *chartFetcher) fetch(ctx context.Context, src remoteChart) (*fetchedChart, error) {
	exact := ""
	if _, err := semver.StrictNewVersion(strings.TrimPrefix(src.version, "v")); err == nil {
		exact = src.version
	}
	key := refKey(src.repo, src.name, src.ref, exact)
	if exact != "" {
		if d := f.cache.ref(key); d != "" {
			if data, ok := f.cache.archive(d); ok {
				return &fetchedChart{data: data, path: f.cache.archivePath(d), digest: d, version: exact}, nil
			}
		}
	}
	var data []byte
	var version string
	var err error
	if src.repo != "" {
		data, version, err = f.fetchFromRepo(ctx, src)
	} else {
		data, version, err = f.fetchFromOCI(ctx, src, exact)
	}
	if err != nil {
		return nil, err
	}
	digest, path, err := f.cache.putArchive(data)
	if err != nil {
		return nil, err
	}
	if err := f.cache.putRef(refKey(src.repo, src.name, src.ref, version), digest); err != nil {
		return nil, err
	}
	return &fetchedChart{data: data, path: path, digest: digest, version: version}, nil
}

// get fetches rawURL for the repository at repoURL: with the repository's
// credentials only when rawURL is on the repository's host, bounded in
// size, and cancelled with ctx.
func (f *chartFetcher) get(ctx context.Context, repoURL, rawURL string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	if ru, err := url.Parse(repoURL); err == nil && ru.Host == req.URL.Host && ru.Scheme == req.URL.Scheme {
		if u, p := helmCredentials(repoURL); u != "" || p != "" {
			req.SetBasicAuth(u, p)
		}
	}
	req.Header.Set("User-Agent", "rekindle (Helm "+chartutil.DefaultCapabilities.HelmVersion.Version+")")
	resp, err := (&http.Client{Transport: f.transport, Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxChartSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxChartSize {
		return nil, fmt.Errorf("larger than %d MiB", maxChartSize>>20)
	}
	return data, nil
}

// fetchFromRepo reads the repository's index.yaml, picks the highest
// version matching the range and downloads it, checked against the
// index's digest.
func (f *chartFetcher) fetchFromRepo(ctx context.Context, src remoteChart) ([]byte, string, error) {
	indexURL := strings.TrimSuffix(src.repo, "/") + "/index.yaml"
	index, err := f.get(ctx, src.repo, indexURL)
	if err != nil {
		return nil, "", fmt.Errorf("fetch %s: %w", redactURL(indexURL), err)
	}
	idx, err := loadIndex(index, f.cache.dir)
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", redactURL(indexURL), err)
	}
	cv, err := idx.Get(src.name, src.version)
	if err != nil {
		return nil, "", fmt.Errorf("%s: no version matches %q (%v); versions: %s", src, src.version, err, versionsOf(idx, src.name))
	}
	if len(cv.URLs) == 0 {
		return nil, "", fmt.Errorf("%s version %s: the index gives no URL", src, cv.Version)
	}
	if cv.Digest != "" {
		if data, ok := f.cache.archive(cv.Digest); ok {
			return data, cv.Version, nil
		}
	}
	chartURL, err := repo.ResolveReferenceURL(src.repo, cv.URLs[0])
	if err != nil {
		return nil, "", fmt.Errorf("%s version %s: %w", src, cv.Version, err)
	}
	data, err := f.get(ctx, src.repo, chartURL)
	if err != nil {
		return nil, "", fmt.Errorf("fetch %s version %s from %s: %w", src, cv.Version, redactURL(chartURL), err)
	}
	if cv.Digest != "" && digestOf(data) != cv.Digest {
		return nil, "", fmt.Errorf("fetch %s version %s from %s: sha256 %s, but the index says %s", src, cv.Version, redactURL(chartURL), digestOf(data), cv.Digest)
	}
	return data, cv.Version, nil
}

// loadIndex parses an index.yaml (through a file: that is what pkg/repo reads).
func loadIndex(data []byte, dir string) (*repo.IndexFile, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, ".index-*.yaml")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, werr
	}
	return repo.LoadIndexFile(tmp.Name())
}

func versionsOf(idx *repo.IndexFile, name string) string {
	vs := idx.Entries[name]
	if len(vs) == 0 {
		return "none (the repository has no chart of that name)"
	}
	out := make([]string, 0, len(vs))
	for i, v := range vs {
		if i == 10 {
			out = append(out, "...")
			break
		}
		out = append(out, v.Version)
	}
	return strings.Join(out, ", ")
}

// fetchFromOCI resolves the version among the reference's tags (semver,
// highest match) and pulls the chart. Credentials come from Docker's config.
func (f *chartFetcher) fetchFromOCI(ctx context.Context, src remoteChart, exact string) ([]byte, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	client, err := registry.NewClient(registry.ClientOptHTTPClient(&http.Client{Transport: f.transport, Timeout: 2 * time.Minute}),
		registry.ClientOptCredentialsFile(dockerConfigFile()), registry.ClientOptEnableCache(true), registry.ClientOptWriter(io.Discard))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", src, err)
	}
	ref := strings.TrimPrefix(src.ref, "oci://")
	version := exact
	if version == "" {
		tags, err := withContext(ctx, func() ([]string, error) { return client.Tags(ref) })
		if err != nil {
			return nil, "", fmt.Errorf("list the versions of %s: %w", src, err)
		}
		if version, err = pickVersion(tags, src.version); err != nil {
			return nil, "", fmt.Errorf("%s: %w", src, err)
		}
	}
	res, err := withContext(ctx, func() (*registry.PullResult, error) {
		return client.Pull(ref+":"+strings.ReplaceAll(version, "+", "_"), registry.PullOptWithChart(true))
	})
	if err != nil {
		return nil, "", fmt.Errorf("pull %s version %s: %w", src, version, err)
	}
	if len(res.Chart.Data) > maxChartSize {
		return nil, "", fmt.Errorf("pull %s version %s: larger than %d MiB", src, version, maxChartSize>>20)
	}
	return res.Chart.Data, version, nil
}

// withContext runs fn (a registry call, which takes no context) and
// returns when it does or when ctx ends, whichever is first; the HTTP
// client's timeout bounds what is left running.
func withContext[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// pickVersion returns the highest tag matching the range (the highest
// stable one when the range is empty).
func pickVersion(tags []string, constraint string) (string, error) {
	if constraint == "" {
		constraint = "*"
	}
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return "", err
	}
	var best *semver.Version
	for _, t := range tags {
		v, err := semver.NewVersion(strings.ReplaceAll(t, "_", "+"))
		if err != nil || !c.Check(v) {
			continue
		}
		if best == nil || v.GreaterThan(best) {
			best = v
		}
	}
	if best == nil {
		return "", fmt.Errorf("no version matches %q (tags: %s)", constraint, strings.Join(tags, ", "))
	}
	return best.Original(), nil
}
