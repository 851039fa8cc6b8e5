package sops

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	sopsage "github.com/getsops/sops/v3/age"
)

// Environment variables that carry an age key, as the sops CLI reads them.
const (
	EnvAgeKey     = "SOPS_AGE_KEY"
	EnvAgeKeyFile = "SOPS_AGE_KEY_FILE"
)

// Keys are age identities that decrypt SOPS files. A nil *Keys holds none.
// Its String, GoString and JSON forms never show the key.
type Keys struct {
	ids        sopsage.ParsedIdentities
	recipients []string
	text       string
	source     string
}

// ParseKeys parses age identities (AGE-SECRET-KEY-1..., one a line, "#"
// comments allowed). source says where they came from, for messages.
func ParseKeys(text, source string) (*Keys, error) {
	var ids sopsage.ParsedIdentities
	var recipients []string
	// age's own parser, not sops', so that a parse error cannot quote the key.
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, recipient, ok := parseIdentity(line)
		if !ok {
			return nil, fmt.Errorf("%s: line %d is not an age identity (AGE-SECRET-KEY-1...)", source, n+1)
		}
		ids = append(ids, id)
		recipients = append(recipients, recipient)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s holds no age identity (AGE-SECRET-KEY-1...)", source)
	}
	return &Keys{ids: ids, recipients: recipients, text: strings.TrimSpace(text) + "\n", source: source}, nil
}

// parseIdentity parses an X25519 or post-quantum hybrid age identity and
// returns it with its recipient. Errors are not returned: they could quote it.
func parseIdentity(s string) (age.Identity, string, bool) {
	if strings.HasPrefix(s, "AGE-SECRET-KEY-PQ-1") {
		id, err := age.ParseHybridIdentity(s)
		if err != nil {
			return nil, "", false
		}
		return id, id.Recipient().String(), true
	}
	id, err := age.ParseX25519Identity(s)
	if err != nil {
		return nil, "", false
	}
	return id, id.Recipient().String(), true
}

// ReadKeyFile reads age identities from a file; a leading ~ is the home directory.
func ReadKeyFile(path, source string) (*Keys, error) {
	p, err := ExpandHome(path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: age key file %s does not exist", source, p)
		}
		return nil, fmt.Errorf("%s: read age key file: %w", source, err)
	}
	return ParseKeys(string(data), source+" ("+p+")")
}

// LoadKeys finds the age key as the sops CLI would, with the blueprint's
// file last: SOPS_AGE_KEY and SOPS_AGE_KEY_FILE (both, when both are set),
// else ageKeyFile (secrets.sops.ageKeyFile; may be empty). No key anywhere
// is not an error: it returns nil, and decrypting then fails naming the file.
func LoadKeys(ageKeyFile string) (*Keys, error) {
	var all []*Keys
	if v := os.Getenv(EnvAgeKey); strings.TrimSpace(v) != "" {
		k, err := ParseKeys(v, EnvAgeKey)
		if err != nil {
			return nil, err
		}
		all = append(all, k)
	}
	if p := os.Getenv(EnvAgeKeyFile); p != "" {
		k, err := ReadKeyFile(p, EnvAgeKeyFile)
		if err != nil {
			return nil, err
		}
		all = append(all, k)
	}
	if len(all) == 0 && ageKeyFile != "" {
		k, err := ReadKeyFile(ageKeyFile, "secrets.sops.ageKeyFile")
		if err != nil {
			return nil, err
		}
		all = append(all, k)
	}
	return merge(all), nil
}

func merge(all []*Keys) *Keys {
	if len(all) == 0 {
		return nil
	}
	out := &Keys{}
	var sources, texts []string
	for _, k := range all {
		out.ids = append(out.ids, k.ids...)
		out.recipients = append(out.recipients, k.recipients...)
		sources = append(sources, k.source)
		texts = append(texts, strings.TrimSpace(k.text))
	}
	out.source = strings.Join(sources, " and ")
	out.text = strings.Join(texts, "\n") + "\n"
	return out
}

// Empty reports whether k holds no identity.
func (k *Keys) Empty() bool { return k == nil || len(k.ids) == 0 }

// Recipients are the public keys (age1...) of the identities: safe to print.
func (k *Keys) Recipients() []string {
	if k == nil {
		return nil
	}
	return append([]string(nil), k.recipients...)
}

// Source says where the key came from (an environment variable or a file).
func (k *Keys) Source() string {
	if k == nil {
		return "no age key"
	}
	return k.source
}

// AgeKey returns the identities as an age key file's text. It exists to place
// the key where an agent reads it (a cluster Secret); never print it.
func (k *Keys) AgeKey() string {
	if k == nil {
		return ""
	}
	return k.text
}

// String describes the key without revealing it.
func (k *Keys) String() string {
	if k.Empty() {
		return "no age key"
	}
	return fmt.Sprintf("age key from %s (recipients %s)", k.source, strings.Join(k.recipients, ", "))
}

// GoString keeps %#v from printing the key.
func (k *Keys) GoString() string { return "sops.Keys{" + k.String() + "}" }

// MarshalJSON keeps JSON output from holding the key.
func (k *Keys) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("{\"recipients\":%q,\"source\":%q}", strings.Join(k.Recipients(), ","), k.Source())), nil
}

// ExpandHome replaces a leading ~ or ~/ with the user's home directory.
func ExpandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("expand %s: %w", p, err)
	}
	return filepath.Join(home, strings.TrimPrefix(p, "~")), nil
}
