package sops

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	sopsapi "github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keyservice"
)

// SecretDataRegex encrypts only the data and stringData of Kubernetes
// Secrets: the rest of a manifest stays readable and diffable.
const SecretDataRegex = "^(data|stringData)$"

// sopsVersion is written into encrypted files' metadata: the version of
// github.com/getsops/sops/v3 in go.mod (its version package would pull in
// the sops CLI's dependencies).
const sopsVersion = "3.13.3"

// ErrNothingEncrypted is returned when no value matched the options.
var ErrNothingEncrypted = errors.New("no value matches the encrypted regex, so nothing would be encrypted")

// EncryptOptions say for whom and what to encrypt.
type EncryptOptions struct {
	// Recipients are age public keys (age1...).
	Recipients []string
	// EncryptedRegex limits encryption to the keys it matches (YAML and JSON
	// only; dotenv, INI and binary files are encrypted whole). Empty:
	// every value.
	EncryptedRegex string
	// UnencryptedRegex leaves the keys it matches in clear (exclusive with
	// EncryptedRegex).
	UnencryptedRegex string
}

// Encrypt encrypts data, a plaintext file read from path, for age recipients.
func Encrypt(path string, data []byte, opts EncryptOptions) ([]byte, error) {
	if IsEncrypted(path, data) {
		return nil, fmt.Errorf("%s is already encrypted with SOPS", path)
	}
	if len(opts.Recipients) == 0 {
		return nil, fmt.Errorf("no age recipient: pass --age age1... or add a creation rule to .sops.yaml")
	}
	var group sopsapi.KeyGroup
	for _, r := range opts.Recipients {
		mk, err := sopsage.MasterKeyFromRecipient(r)
		if err != nil {
			return nil, fmt.Errorf("age recipient %q: %w", r, err)
		}
		group = append(group, mk)
	}
	format := FormatForPath(path)
	store := storeFor(format)
	branches, err := store.LoadPlainFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", path, format, err)
	}
	if len(branches) == 0 || len(branches[0]) == 0 {
		return nil, fmt.Errorf("%s: nothing to encrypt", path)
	}
	meta := sopsapi.Metadata{KeyGroups: []sopsapi.KeyGroup{group}, Version: sopsVersion}
	if format == YAML || format == JSON {
		meta.EncryptedRegex, meta.UnencryptedRegex = opts.EncryptedRegex, opts.UnencryptedRegex
	}
	tree := sopsapi.Tree{Branches: branches, Metadata: meta, FilePath: path}
	svc := []keyservice.KeyServiceClient{ageService{}}
	dataKey, errs := tree.GenerateDataKeyWithKeyServices(svc)
	if len(errs) > 0 {
		return nil, fmt.Errorf("encrypt the data key: %w", errors.Join(errs...))
	}
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(dataKey, cipher)
	if err != nil {
		return nil, fmt.Errorf("%s: encrypt: %w", path, err)
	}
	if len(encryptedLeaves(tree.Branches)) == 0 {
		return nil, fmt.Errorf("%s: %w", path, ErrNothingEncrypted)
	}
	tree.Metadata.LastModified = time.Now().UTC()
	tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return nil, fmt.Errorf("%s: encrypt the MAC: %w", path, err)
	}
	out, err := store.EmitEncryptedFile(tree)
	if err != nil {
		return nil, fmt.Errorf("%s: write encrypted file: %w", path, err)
	}
	return out, nil
}

// CreationRule is what a .sops.yaml creation rule says for a file.
type CreationRule struct {
	// Config is the .sops.yaml file.
	Config           string
	Recipients       []string
	EncryptedRegex   string
	UnencryptedRegex string
}

// FindCreationRule returns the .sops.yaml creation rule (searched from the
// file's directory upwards, as the sops CLI does) that matches path, or nil
// when there is no .sops.yaml. Only age recipients are supported.
func FindCreationRule(path string) (*CreationRule, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	conf, err := config.FindConfigFile(abs)
	if err != nil || conf == "" {
		return nil, nil // no .sops.yaml
	}
	c, err := config.LoadCreationRuleForFile(conf, abs, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", conf, err)
	}
	if c == nil {
		return nil, fmt.Errorf("%s: no creation rule matches %s", conf, path)
	}
	rule := &CreationRule{Config: conf, EncryptedRegex: c.EncryptedRegex, UnencryptedRegex: c.UnencryptedRegex}
	if len(c.KeyGroups) > 1 {
		return nil, fmt.Errorf("%s: key groups (Shamir) are not supported by rekindle secrets encrypt; use sops", conf)
	}
	for _, g := range c.KeyGroups {
		for _, k := range g {
			if k.TypeToIdentifier() != "age" {
				return nil, fmt.Errorf("%s: the rule for %s names a %s key; rekindle supports age recipients only", conf, path, k.TypeToIdentifier())
			}
			rule.Recipients = append(rule.Recipients, strings.TrimSpace(k.ToString()))
		}
	}
	return rule, nil
}
