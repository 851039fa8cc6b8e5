package restore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Versions are the pins of hack/install-velero.sh: its cache key.
const Versions = "velero-v1.18.3-b2_aws-v1.14.3_versitygw-v1.8.0"

// binaries are what a host Velero needs (versitygw is for tests only).
var binaries = []string{"velero", "plugins/velero-plugin-for-aws"}

// FindBinDir returns dir, or else REKINDLE_VELERO_BIN_DIR, or else
// hack/install-velero.sh's cache directory
// (${XDG_CACHE_HOME:-~/.cache}/rekindle/<Versions>/bin), and an error naming
// what is missing there.
func FindBinDir(dir string, extra ...string) (string, error) {
	if dir == "" {
		dir = os.Getenv("REKINDLE_VELERO_BIN_DIR")
	}
	if dir == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("find the velero binaries: %w", err)
			}
			cache = filepath.Join(home, ".cache")
		}
		dir = filepath.Join(cache, "rekindle", Versions, "bin")
	}
	var missing []string
	for _, b := range append(append([]string(nil), binaries...), extra...) {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.Mode()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return dir, fmt.Errorf("%s not in %s (hack/install-velero.sh builds them)", strings.Join(missing, ", "), dir)
	}
	return dir, nil
}
