package sops

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"

	sopsapi "github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/stores/dotenv"
	"github.com/getsops/sops/v3/stores/ini"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
)

// Format is how SOPS reads a file, chosen by its extension as the sops CLI does.
type Format int

// Formats.
const (
	Binary Format = iota
	YAML
	JSON
	Dotenv
	INI
)

func (f Format) String() string {
	return [...]string{"binary", "yaml", "json", "dotenv", "ini"}[f]
}

// FormatForPath returns the format SOPS uses for path.
func FormatForPath(path string) Format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		return YAML
	case ".json":
		return JSON
	case ".env":
		return Dotenv
	case ".ini":
		return INI
	}
	return Binary
}

var (
	yamlMarker   = regexp.MustCompile(`(?m)^sops:[ \t]*(#.*)?\r?$`)
	dotenvMarker = regexp.MustCompile(`(?m)^sops_(version|mac|lastmodified)=`)
	iniMarker    = regexp.MustCompile(`(?m)^\[sops\][ \t]*\r?$`)
)

// IsEncrypted reports whether data, read from path, is a SOPS-encrypted file:
// YAML with a top-level sops: key, JSON (or a binary file SOPS wrapped in
// JSON) with a top-level "sops" object, a dotenv file with sops_* lines, an
// INI file with a [sops] section.
func IsEncrypted(path string, data []byte) bool {
	switch FormatForPath(path) {
	case YAML:
		return yamlMarker.Match(data)
	case Dotenv:
		return dotenvMarker.Match(data)
	case INI:
		return iniMarker.Match(data)
	}
	t := bytes.TrimSpace(data)
	if len(t) == 0 || t[0] != '{' || !bytes.Contains(t, []byte(`"sops"`)) {
		return false
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(t, &top) != nil {
		return false
	}
	meta, ok := top["sops"]
	return ok && bytes.HasPrefix(bytes.TrimSpace(meta), []byte("{"))
}

func storeFor(f Format) sopsapi.Store {
	switch f {
	case YAML:
		return sopsyaml.NewStore(&config.YAMLStoreConfig{})
	case JSON:
		return sopsjson.NewStore(&config.JSONStoreConfig{})
	case Dotenv:
		return dotenv.NewStore(&config.DotenvStoreConfig{})
	case INI:
		return ini.NewStore(&config.INIStoreConfig{})
	}
	return sopsjson.NewBinaryStore(&config.JSONBinaryStoreConfig{})
}
