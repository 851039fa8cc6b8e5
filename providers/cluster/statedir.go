package cluster

import (
	"fmt"
	"os"
	"path/filepath"
)

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
