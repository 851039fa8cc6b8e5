package sops

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	sopsapi "github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	"github.com/getsops/sops/v3/keyservice"
)

// KeyHint tells the user where rekindle looks for an age key.
const KeyHint = "set SOPS_AGE_KEY_FILE or SOPS_AGE_KEY, or secrets.sops.ageKeyFile in the environment"

// DecryptError says why an encrypted file did not decrypt. It names the file
// and its recipients, never a value or the key.
type DecryptError struct {
	// File is the file, as the caller named it.
	File string
	// Recipients are the file's recipients (age1..., or "type:id" for other
	// key types), which the key lacks.
	Recipients []string
	// KeyRecipients are the recipients of the key that was tried (none
	// without a key).
	KeyRecipients []string
	// Reason is set when the file could not be read or verified, rather than
	// the key not matching.
	Reason string
}

func (e *DecryptError) Error() string {
	recips := strings.Join(e.Recipients, ", ")
	switch {
	case e.Reason != "":
		return fmt.Sprintf("%s: SOPS-encrypted file does not decrypt: %s", e.File, e.Reason)
	case len(e.KeyRecipients) == 0:
		return fmt.Sprintf("%s is encrypted with SOPS for recipients %s; no age key is set: %s", e.File, recips, KeyHint)
	default:
		return fmt.Sprintf("%s is encrypted with SOPS for recipients %s; the age key (%s) is none of them", e.File, recips, strings.Join(e.KeyRecipients, ", "))
	}
}

// NoKey reports whether the error is the lack of any key.
func (e *DecryptError) NoKey() bool { return e.Reason == "" && len(e.KeyRecipients) == 0 }

// Decrypted is a decrypted file.
type Decrypted struct {
	// Data is the plaintext file, in its own format.
	Data []byte
	// Values are the values that were encrypted (and, for base64 ones, their
	// decoded text), to keep them out of messages; see Scrub.
	Values []string
}

// Recipients lists the recipients of an encrypted file.
func Recipients(path string, data []byte) ([]string, error) {
	tree, err := storeFor(FormatForPath(path)).LoadEncryptedFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: read SOPS metadata: %w", path, err)
	}
	return recipientsOf(tree), nil
}

func recipientsOf(tree sopsapi.Tree) []string {
	var out []string
	for _, g := range tree.Metadata.KeyGroups {
		for _, k := range g {
			id := k.ToString()
			if t := k.TypeToIdentifier(); t != "age" {
				id = t + ":" + id
			}
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out
}

// Decrypt decrypts data, a SOPS-encrypted file read from path (its extension
// picks the format), with keys, and checks its MAC. name is how errors call
// the file. Errors are *DecryptError when the key does not fit.
func Decrypt(name, path string, data []byte, keys *Keys) (*Decrypted, error) {
	store := storeFor(FormatForPath(path))
	tree, err := store.LoadEncryptedFile(data)
	if err != nil {
		return nil, &DecryptError{File: name, Reason: "read SOPS metadata: " + err.Error()}
	}
	recips := recipientsOf(tree)
	if keys.Empty() {
		return nil, &DecryptError{File: name, Recipients: recips}
	}
	dataKey, err := tree.Metadata.GetDataKeyWithKeyServices([]keyservice.KeyServiceClient{ageService{ids: keys.ids}}, nil)
	if err != nil {
		return nil, &DecryptError{File: name, Recipients: recips, KeyRecipients: keys.Recipients()}
	}
	encrypted := encryptedLeaves(tree.Branches)
	cipher := aes.NewCipher()
	mac, err := tree.Decrypt(dataKey, cipher)
	if err != nil {
		return nil, &DecryptError{File: name, Recipients: recips, KeyRecipients: keys.Recipients(), Reason: "a value does not decrypt with the file's data key (the file is corrupt)"}
	}
	fileMac, err := cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil || fileMac != mac {
		// The MACs themselves are hashes of the values: not printed.
		return nil, &DecryptError{File: name, Recipients: recips, KeyRecipients: keys.Recipients(), Reason: "MAC mismatch: the file was changed after it was encrypted (re-encrypt it with sops or rekindle secrets encrypt)"}
	}
	plain, err := store.EmitPlainFile(tree.Branches)
	if err != nil {
		return nil, &DecryptError{File: name, Recipients: recips, KeyRecipients: keys.Recipients(), Reason: "emit plaintext failed"}
	}
	return &Decrypted{Data: plain, Values: leafValues(tree.Branches, encrypted)}, nil
}

// Ciphertext returns an encrypted file without its SOPS metadata, the values
// still encrypted: a stand-in of the same shape for a file that does not
// decrypt, so that a check can go on and find every such file.
func Ciphertext(path string, data []byte) ([]byte, error) {
	store := storeFor(FormatForPath(path))
	tree, err := store.LoadEncryptedFile(data)
	if err != nil {
		return nil, fmt.Errorf("read SOPS metadata: %w", err)
	}
	return store.EmitPlainFile(tree.Branches)
}

// leafPath locates a leaf: branch index, then item or element indices.
type leafPath []int

func walkLeaves(branches sopsapi.TreeBranches, fn func(leafPath, any)) {
	var walk func(p leafPath, v any)
	walk = func(p leafPath, v any) {
		switch t := v.(type) {
		case sopsapi.TreeBranch:
			for i, item := range t {
				if _, ok := item.Key.(sopsapi.Comment); ok {
					continue
				}
				walk(append(slices.Clone(p), i), item.Value)
			}
		case []any:
			for i, e := range t {
				walk(append(slices.Clone(p), i), e)
			}
		default:
			fn(p, v)
		}
	}
	for i, b := range branches {
		walk(leafPath{i}, b)
	}
}

// encryptedLeaves lists the leaves holding SOPS ciphertext.
func encryptedLeaves(branches sopsapi.TreeBranches) map[string]bool {
	out := map[string]bool{}
	walkLeaves(branches, func(p leafPath, v any) {
		if s, ok := v.(string); ok && strings.HasPrefix(s, "ENC[") {
			out[fmt.Sprint(p)] = true
		}
	})
	return out
}

func leafValues(branches sopsapi.TreeBranches, encrypted map[string]bool) []string {
	var out []string
	walkLeaves(branches, func(p leafPath, v any) {
		if !encrypted[fmt.Sprint(p)] {
			return
		}
		s := fmt.Sprint(v)
		if len(s) < 3 {
			return // too short to look for in a message without noise
		}
		out = append(out, s)
		if dec, err := base64.StdEncoding.DecodeString(s); err == nil && len(dec) >= 3 && utf8.Valid(dec) {
			out = append(out, string(dec))
		}
	})
	return out
}

// Scrub returns err with every one of values replaced by <redacted>, or err
// itself when it holds none of them.
func Scrub(err error, values []string) error {
	if err == nil || len(values) == 0 {
		return err
	}
	msg := err.Error()
	clean := msg
	for _, v := range values {
		clean = strings.ReplaceAll(clean, v, "<redacted>")
	}
	if clean == msg {
		return err
	}
	return &scrubbed{msg: clean, err: err}
}

// scrubbed keeps errors.Is and errors.As working through a rewritten message.
type scrubbed struct {
	msg string
	err error
}

func (s *scrubbed) Error() string { return s.msg }
func (s *scrubbed) Unwrap() error { return s.err }

// IsDecryptError reports whether err is, or wraps, a *DecryptError.
func IsDecryptError(err error) bool {
	var de *DecryptError
	return errors.As(err, &de)
}
