package recovery

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"
)

// HistoryEntry is one drill's headline numbers.
type HistoryEntry struct {
	Time      time.Time     `json:"time"`
	Commit    string        `json:"commit,omitempty"`
	RTO       time.Duration `json:"rto"`
	Objective time.Duration `json:"objective,omitempty"`
	Passed    bool          `json:"passed"`
	Objects   int           `json:"objects"`
}

// historyLimit is how many earlier drills the trend shows.
const historyLimit = 10

// appendHistory adds e to the history file and returns the last entries
// before it, oldest first.
func appendHistory(path string, e HistoryEntry) ([]HistoryEntry, error) {
	prev, err := readHistory(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	line, _ := json.Marshal(e)
	if _, err := f.Write(append(line, '\n')); err != nil {
		return nil, err
	}
	if len(prev) > historyLimit {
		prev = prev[len(prev)-historyLimit:]
	}
	return prev, f.Sync()
}

// readHistory reads the file, skipping lines it cannot parse (a torn last
// line after a crash must not hide the rest).
func readHistory(path string) ([]HistoryEntry, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []HistoryEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e HistoryEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil && !e.Time.IsZero() {
			out = append(out, e)
		}
	}
	return out, sc.Err()
}
