package blueprints

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/rekindle-dev/rekindle/providers/git"
)

// MaxFileSize bounds rekindle.yaml and every file rendered from the repo.
const MaxFileSize = 8 << 20

// Repo is a checked-out blueprint repo with its parsed rekindle.yaml.
type Repo struct {
	// Dir is the absolute path of the repo root.
	Dir string
	// Commit is the Git commit of Dir, when known.
	Commit string
	// Blueprint is the parsed rekindle.yaml.
	Blueprint *Blueprint
	// ChartCacheDir keeps remote charts, by digest; empty means
	// DefaultChartCacheDir (<state-dir>/charts).
	ChartCacheDir string

	// gitCacheDir and gitAuth fetch kustomize's remote Git bases: the
	// blueprint's own (Open sets them); empty: <state-dir>/git and
	// credentials from the environment.
	gitCacheDir string
	gitAuth     *git.Auth

	file  string
	lines map[string]int
}

// Load reads, checks and validates rekindle.yaml in dir. Problems with the
// file are returned together as an *InvalidError.
func Load(dir string) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blueprint dir %q: %w", dir, err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	file := filepath.Join(abs, FileName)
	data, err := readLimited(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &InvalidError{Problems: []Problem{{File: file, Message: fmt.Sprintf("not found: a blueprint repo has %s at its root", FileName)}}}
		}
		return nil, err
	}
	r := &Repo{Dir: abs, file: file, lines: map[string]int{}}
	p := &problems{file: file, lines: r.lines}
	bp, err := r.parse(data, p)
	if err != nil {
		return nil, err
	}
	r.Blueprint = bp
	r.validate(p)
	if err := p.err(); err != nil {
		return nil, err
	}
	return r, nil
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// parse decodes rekindle.yaml. Schema problems go to p and what they refer
// to is left out of the returned Blueprint, so that validation can go on and
// report the rest in the same run; only YAML that does not parse stops here.
func (r *Repo) parse(data []byte, p *problems) (*Blueprint, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			p.add("", "the file is empty")
			return nil, p.err()
		}
		line := 0
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = yamlLine.ReplaceAllString(msg, "")
		msg = strings.TrimLeft(msg, ": ")
		return nil, &InvalidError{Problems: []Problem{{File: r.file, Line: line, Message: "not valid YAML: " + msg}}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.list = append(p.list, Problem{File: r.file, Line: extra.Line, Message: "more than one YAML document; a blueprint is a single document"})
	}
	checkSchema(&root, reflect.TypeOf(Blueprint{}), "", p)
	if len(p.list) > 0 {
		// Decode what the schema check kept.
		var err error
		if data, err = yaml.Marshal(&root); err != nil {
			return nil, p.err()
		}
	}
	js, err := sigsyaml.YAMLToJSON(data)
	if err != nil {
		return nil, &InvalidError{Problems: []Problem{{File: r.file, Message: "not valid YAML: " + err.Error()}}}
	}
	var bp Blueprint
	if err := json.Unmarshal(js, &bp); err != nil {
		// The schema walk accepted the types and the durations; keep its findings.
		p.list = append(p.list, Problem{File: r.file, Message: err.Error()})
		return nil, p.err()
	}
	return &bp, nil
}

// Path resolves a path from the blueprint against the repo root. It refuses
// absolute paths and paths that leave the repo, through ".." or symlinks.
func (r *Repo) Path(rel string) (string, error) {
	if rel == "" {
		return "", fmt.Errorf("empty path")
	}
	if filepath.IsAbs(rel) {
		return "", fmt.Errorf("path %q is absolute; paths are relative to the repo root", rel)
	}
	p := filepath.Join(r.Dir, filepath.FromSlash(rel))
	if !within(r.Dir, p) {
		return "", fmt.Errorf("path %q leaves the repo", rel)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("path %q does not exist in the repo", rel)
		}
		return "", fmt.Errorf("path %q: %w", rel, err)
	}
	if !within(r.Dir, real) {
		return "", fmt.Errorf("path %q leaves the repo through a symlink", rel)
	}
	return real, nil
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("read %s: larger than the %d MiB limit", path, MaxFileSize>>20)
	}
	return data, nil
}
