package cluster

import (
	"fmt"
	"os"
	"path/filepath"
)

// ResolveStateDir returns dir as an absolute path, or the default state dir
// when dir is empty.
func ResolveStateDir(dir string) (string, error) {
	if dir == "" {
		d, err := DefaultStateDir()
		if err != nil {
			return "", err
		}
		dir = d
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("state dir %q: %w", dir, err)
	}
	return abs, nil
}

// DefaultStateDir is where rekindle keeps state when no directory is given:
// $REKINDLE_STATE_DIR, else $XDG_STATE_HOME/rekindle, else
// ~/.local/state/rekindle.
func DefaultStateDir() (string, error) {
	if d := os.Getenv("REKINDLE_STATE_DIR"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "rekindle"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the state directory: %w", err)
	}
	return filepath.Join(home, ".local", "state", "rekindle"), nil
}
