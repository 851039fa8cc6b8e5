package blueprints

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/providers/git"
)

// remoteBase is a kustomization entry (resources, components, bases) that
// names a directory of a Git repository, as kustomize writes them:
// https://host/org/repo//dir?ref=v1, https://host/org/repo.git/dir?ref=v1,
// github.com/org/repo/dir?ref=v1, git@host:org/repo.git/dir, git::URL.
type remoteBase struct{ repo, dir, ref string }

// parseRemoteBase recognises a remote Git base. URLs of single files
// (ending in .yaml, .yml or .json, with no repo//dir marker and no ref)
// are not bases: kustomize fetches those itself over HTTP.
func parseRemoteBase(entry string) (remoteBase, bool) {
	s := strings.TrimPrefix(strings.TrimSpace(entry), "git::")
	shorthand := strings.HasPrefix(s, "github.com/") || strings.HasPrefix(s, "gitlab.com/") || strings.HasPrefix(s, "bitbucket.org/")
	if !git.IsRemote(s) && !shorthand {
		return remoteBase{}, false
	}
	query := ""
	if i := strings.Index(s, "?"); i >= 0 {
		s, query = s[:i], s[i+1:]
	}
	vals, _ := url.ParseQuery(query)
	ref := vals.Get("ref")
	if ref == "" {
		ref = vals.Get("version")
	}
	if shorthand {
		s = "https://" + s
	}
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + 3
	}
	rest := s[start:]
	var b remoteBase
	switch {
	case strings.Contains(rest, "//"):
		i := strings.Index(rest, "//")
		b = remoteBase{repo: s[:start+i], dir: rest[i+2:]}
	case strings.Contains(rest+"/", ".git/"):
		i := strings.Index(rest+"/", ".git/")
		b = remoteBase{repo: s[:start+i+4], dir: strings.TrimPrefix(rest[min(i+4, len(rest)):], "/")}
	case shorthand:
		parts := strings.SplitN(rest, "/", 4)
		if len(parts) < 3 {
			return remoteBase{}, false
		}
		b = remoteBase{repo: s[:start] + strings.Join(parts[:3], "/")}
		if len(parts) == 4 {
			b.dir = parts[3]
		}
	default:
		ext := strings.ToLower(path.Ext(rest))
		if ref == "" && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
			return remoteBase{}, false
		}
		b = remoteBase{repo: s}
	}
	b.ref = ref
	return b, true
}

// remoteBasesFS rewrites every remote Git base in the kustomization files
// kustomize reads into a relative path to a checkout made by rekindle's
// own Git code (providers/git: the clone cache, the same credentials and
// known_hosts as the blueprint, the ref pinned in the URL), so that
// kustomize never runs the git CLI.
type remoteBasesFS struct {
	filesys.FileSystem
	ctx      context.Context
	cacheDir string
	auth     git.Auth
	// checkouts maps repo@ref to the checkout's directory.
	checkouts map[string]string
	// err is the first base that could not be fetched: kustomize reports
	// a kustomization it cannot read as missing, so the caller says why.
	err error
}

func (r *Repo) newRemoteBasesFS(ctx context.Context, fs filesys.FileSystem) (*remoteBasesFS, error) {
	cacheDir := r.gitCacheDir
	if cacheDir == "" {
		state, err := cluster.DefaultStateDir()
		if err != nil {
			return nil, err
		}
		cacheDir = filepath.Join(state, "git")
	}
	auth := git.AuthFromEnv()
	if r.gitAuth != nil {
		auth = *r.gitAuth
	}
	return &remoteBasesFS{FileSystem: fs, ctx: ctx, cacheDir: cacheDir, auth: auth, checkouts: map[string]string{}}, nil
}

func isKustomizationFile(p string) bool {
	switch filepath.Base(p) {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}

func (f *remoteBasesFS) ReadFile(p string) ([]byte, error) {
	data, err := f.FileSystem.ReadFile(p)
	if err != nil || !isKustomizationFile(p) {
		return data, err
	}
	var k map[string]any
	if yaml.Unmarshal(data, &k) != nil {
		return data, nil // kustomize reports it
	}
	changed := false
	for _, field := range []string{"resources", "components", "bases"} {
		list, ok := k[field].([]any)
		if !ok {
			continue
		}
		for i, e := range list {
			s, ok := e.(string)
			if !ok {
				continue
			}
			b, ok := parseRemoteBase(s)
			if !ok {
				continue
			}
			local, err := f.fetch(b)
			if err != nil {
				err = fmt.Errorf("%s: %s %q: %w", p, field, git.RedactURL(s), err)
				if f.err == nil {
					f.err = err
				}
				return nil, err
			}
			rel, err := filepath.Rel(filepath.Dir(p), local)
			if err != nil {
				return nil, fmt.Errorf("%s: %s %q: %w", p, field, git.RedactURL(s), err)
			}
			list[i] = rel
			changed = true
		}
	}
	if !changed {
		return data, nil
	}
	return yaml.Marshal(k)
}

// fetch checks out the base's repository at its ref and returns the
// directory the base names in it.
func (f *remoteBasesFS) fetch(b remoteBase) (string, error) {
	key := b.repo + "@" + b.ref
	dir, ok := f.checkouts[key]
	if !ok {
		co, err := git.Fetch(f.ctx, f.cacheDir, git.Source{URL: b.repo, Ref: b.ref, Auth: f.auth})
		if err != nil {
			return "", err
		}
		dir = co.Dir
		f.checkouts[key] = dir
	}
	sub := filepath.Clean(filepath.FromSlash(b.dir))
	if filepath.IsAbs(sub) || sub == ".." || strings.HasPrefix(sub, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("directory %q leaves the repository", b.dir)
	}
	return filepath.Join(dir, sub), nil
}
