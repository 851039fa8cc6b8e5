package bootstrap

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// checkpointVersion changes when the checkpoint format does.
const checkpointVersion = 1

// Checkpoint records what a run of an environment has completed.
type Checkpoint struct {
	Version   int    `json:"version"`
	Blueprint string `json:"blueprint"`
	Source    string `json:"source"`
	Ref       string `json:"ref,omitempty"`
	Env       string `json:"env"`
	// Commit is the blueprint commit the steps were completed at.
	Commit string `json:"commit"`
	// Steps maps a step name to when it completed.
	Steps map[string]StepRecord `json:"steps"`
	// Clusters are the clusters the run created or found.
	Clusters []ClusterRecord `json:"clusters,omitempty"`
	// Sum is the SHA-256 of the checkpoint without it: a truncated or edited
	// file is detected rather than trusted.
	Sum string `json:"sum"`
}

// StepRecord is one completed step.
type StepRecord struct {
	Completed time.Time     `json:"completed"`
	Duration  time.Duration `json:"duration"`
	Detail    string        `json:"detail,omitempty"`
}

// ClusterRecord is a cluster of the environment.
type ClusterRecord struct {
	Name       string `json:"name"`
	Provider   string `json:"provider"`
	APIServer  string `json:"apiServer,omitempty"`
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Steps are the cluster's own steps completed at the checkpoint's commit.
	Steps map[string]StepRecord `json:"steps,omitempty"`
}

// Done reports whether step completed at the checkpoint's commit.
func (c *Checkpoint) Done(step string) bool {
	_, ok := c.Steps[step]
	return ok
}

// Cluster returns the record of cluster name, or nil.
func (c *Checkpoint) Cluster(name string) *ClusterRecord {
	for i := range c.Clusters {
		if c.Clusters[i].Name == name {
			return &c.Clusters[i]
		}
	}
	return nil
}

func (c *Checkpoint) setCluster(r ClusterRecord) {
	if old := c.Cluster(r.Name); old != nil {
		*old = r
		return
	}
	c.Clusters = append(c.Clusters, r)
}

// ErrCorruptCheckpoint marks a checkpoint that cannot be trusted.
var ErrCorruptCheckpoint = errors.New("checkpoint is corrupt")

// readCheckpoint loads path; a missing file is an empty checkpoint.
func readCheckpoint(path string) (*Checkpoint, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &Checkpoint{Version: checkpointVersion, Steps: map[string]StepRecord{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	var c Checkpoint
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%w: %s: %v (move it away to start this environment's run from scratch)", ErrCorruptCheckpoint, path, err)
	}
	if c.Version != checkpointVersion {
		return nil, fmt.Errorf("%w: %s has format version %d, this rekindle reads %d", ErrCorruptCheckpoint, path, c.Version, checkpointVersion)
	}
	want := c.Sum
	if got := c.checksum(); got != want {
		return nil, fmt.Errorf("%w: %s: checksum mismatch (the file was truncated or edited; move it away to start from scratch)", ErrCorruptCheckpoint, path)
	}
	if c.Steps == nil {
		c.Steps = map[string]StepRecord{}
	}
	return &c, nil
}

func (c *Checkpoint) checksum() string {
	cp := *c
	cp.Sum = ""
	b, _ := json.Marshal(&cp)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// write saves the checkpoint atomically (temp file, fsync, rename).
func (c *Checkpoint) write(path string) error {
	c.Version = checkpointVersion
	c.Sum = c.checksum()
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'), 0o600)
}

// writeFileAtomic replaces path with data so that a reader sees either the
// old or the new content, never a part.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// envPaths lays out an environment's state under the state dir.
type envPaths struct {
	dir        string // <stateDir>/envs/<blueprint>/<env>
	checkpoint string
	lock       string
	terraform  string
	agents     string
}

func newEnvPaths(stateDir, blueprint, env string) envPaths {
	dir := filepath.Join(stateDir, "envs", blueprint, env)
	return envPaths{
		dir:        dir,
		checkpoint: filepath.Join(dir, "checkpoint.json"),
		lock:       filepath.Join(dir, "lock"),
		terraform:  filepath.Join(dir, "terraform"),
		agents:     filepath.Join(dir, "agents"),
	}
}
