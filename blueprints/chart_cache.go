package blueprints

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// maxChartSize bounds a chart archive and a repository index.
const maxChartSize = 64 << 20

// chartCache keeps remote charts content-addressed:
//
//	<dir>/sha256/<digest>.tgz   chart archives, by the sha256 of their bytes
//	<dir>/refs/<key>            the digest an exact version resolved to
//	<dir>/built/<key>/*.tgz     charts with their fetched dependencies added
//
// Files are written to a temporary name and renamed, so concurrent
// renders (the host agent and a bootstrap) never read half a file.
type chartCache struct{ dir string }

// DefaultChartCacheDir is <state-dir>/charts.
func DefaultChartCacheDir() (string, error) {
	state, err := cluster.DefaultStateDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(state, "charts"), nil
}

func (r *Repo) chartCache() (*chartCache, error) {
	dir := r.ChartCacheDir
	if dir == "" {
		var err error
		if dir, err = DefaultChartCacheDir(); err != nil {
			return nil, err
		}
	}
	return &chartCache{dir: dir}, nil
}

func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

var hexDigest = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (c *chartCache) archivePath(digest string) string {
	return filepath.Join(c.dir, "sha256", digest+".tgz")
}

// archive returns the cached archive with that digest, checked against it.
func (c *chartCache) archive(digest string) ([]byte, bool) {
	if !hexDigest.MatchString(digest) {
		return nil, false
	}
	data, err := readLimitedN(c.archivePath(digest), maxChartSize)
	if err != nil || digestOf(data) != digest {
		return nil, false
	}
	return data, true
}

// putArchive stores data under its digest and returns both.
func (c *chartCache) putArchive(data []byte) (string, string, error) {
	d := digestOf(data)
	p := c.archivePath(d)
	if _, ok := c.archive(d); ok {
		return d, p, nil
	}
	return d, p, writeAtomic(p, data)
}

func refKey(parts ...string) string {
	return digestOf([]byte(strings.Join(parts, "\n")))
}

// ref returns the digest recorded for an exact chart version.
func (c *chartCache) ref(key string) string {
	data, err := readLimitedN(filepath.Join(c.dir, "refs", key), 128)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

func (c *chartCache) putRef(key, digest string) error {
	return writeAtomic(filepath.Join(c.dir, "refs", key), []byte(digest+"\n"))
}

func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("chart cache: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("chart cache: %w", err)
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
		return fmt.Errorf("chart cache: write %s: %w", path, werr)
	}
	return nil
}

func readLimitedN(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return os.ReadFile(path)
}
