package sops

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

const plainSecret = `apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: app
type: Opaque
stringData:
  password: hunter2-plaintext
data:
  token: c2VjcmV0LXRva2VuLXZhbHVl
`

func newKey(t *testing.T) (*age.X25519Identity, *Keys) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKeys("# test key\n"+id.String()+"\n", "test")
	if err != nil {
		t.Fatal(err)
	}
	return id, k
}

func encrypt(t *testing.T, path, plain string, regex string, ids ...*age.X25519Identity) []byte {
	t.Helper()
	var recips []string
	for _, id := range ids {
		recips = append(recips, id.Recipient().String())
	}
	out, err := Encrypt(path, []byte(plain), EncryptOptions{Recipients: recips, EncryptedRegex: regex})
	if err != nil {
		t.Fatalf("encrypt %s: %v", path, err)
	}
	return out
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	id, keys := newKey(t)
	tests := []struct {
		name, path, plain, regex string
		want, hidden             []string
	}{
		{"secret yaml, data only", "secret.yaml", plainSecret, SecretDataRegex, []string{"hunter2-plaintext", "c2VjcmV0LXRva2VuLXZhbHVl"}, []string{"hunter2-plaintext", "c2VjcmV0LXRva2VuLXZhbHVl"}},
		{"dotenv", "app.env", "DB_PASSWORD=s3cr3t-env-value\nMODE=prod\n", SecretDataRegex, []string{"DB_PASSWORD=s3cr3t-env-value"}, []string{"s3cr3t-env-value", "prod"}},
		{"json", "values.json", `{"password": "json-secret-value"}`, "", []string{"json-secret-value"}, []string{"json-secret-value"}},
		{"binary", "tls.key", "-----BEGIN KEY-----\nbinary-secret-value\n", "", []string{"binary-secret-value"}, []string{"binary-secret-value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := encrypt(t, tt.path, tt.plain, tt.regex, id)
			if !IsEncrypted(tt.path, enc) {
				t.Fatalf("IsEncrypted(%s) = false for:\n%s", tt.path, enc)
			}
			for _, h := range tt.hidden {
				if strings.Contains(string(enc), h) {
					t.Errorf("ciphertext holds %q:\n%s", h, enc)
				}
			}
			dec, err := Decrypt(tt.path, tt.path, enc, keys)
			if err != nil {
				t.Fatalf("decrypt: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(dec.Data), w) {
					t.Errorf("plaintext lacks %q:\n%s", w, dec.Data)
				}
			}
			if len(dec.Values) == 0 {
				t.Errorf("no values recorded for scrubbing")
			}
		})
	}
}

func TestEncryptedRegexKeepsMetadataReadable(t *testing.T) {
	id, keys := newKey(t)
	enc := string(encrypt(t, "s.yaml", plainSecret, SecretDataRegex, id))
	for _, want := range []string{"kind: Secret", "name: db", "encrypted_regex: ^(data|stringData)$", id.Recipient().String()} {
		if !strings.Contains(enc, want) {
			t.Errorf("encrypted file lacks %q:\n%s", want, enc)
		}
	}
	dec, err := Decrypt("s.yaml", "s.yaml", []byte(enc), keys)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(dec.Values, "|")
	for _, v := range []string{"hunter2-plaintext", "c2VjcmV0LXRva2VuLXZhbHVl", "secret-token-value"} {
		if !strings.Contains(joined, v) {
			t.Errorf("Values lack %q (decoded base64 included): %v", v, len(dec.Values))
		}
	}
	if strings.Contains(joined, "Secret") || strings.Contains(joined, "Opaque") {
		t.Errorf("Values hold unencrypted fields")
	}
}

func TestDecryptErrors(t *testing.T) {
	owner, _ := newKey(t)
	other, _ := newKey(t)
	wrong, wrongKeys := newKey(t)
	enc := encrypt(t, "secret.yaml", plainSecret, SecretDataRegex, owner, other)

	_, err := Decrypt("workloads/app/secret.yaml", "secret.yaml", enc, wrongKeys)
	de, ok := err.(*DecryptError)
	if !ok {
		t.Fatalf("wrong key: got %T %v", err, err)
	}
	msg := err.Error()
	for _, want := range []string{"workloads/app/secret.yaml", owner.Recipient().String(), other.Recipient().String(), wrong.Recipient().String(), "none of them"} {
		if !strings.Contains(msg, want) {
			t.Errorf("wrong-key error lacks %q: %s", want, msg)
		}
	}
	if de.NoKey() || len(de.Recipients) != 2 {
		t.Errorf("DecryptError = %+v", de)
	}
	if strings.Contains(msg, wrong.String()) || strings.Contains(msg, "AGE-SECRET-KEY") {
		t.Errorf("error shows a private key: %s", msg)
	}

	_, err = Decrypt("secret.yaml", "secret.yaml", enc, nil)
	if err == nil || !strings.Contains(err.Error(), owner.Recipient().String()) || !strings.Contains(err.Error(), "SOPS_AGE_KEY_FILE") {
		t.Errorf("no key: %v", err)
	}

	// A value changed after encryption fails the MAC and says so, without hashes.
	ownerKeys, _ := ParseKeys(owner.String(), "owner")
	tampered := strings.Replace(string(enc), "name: db", "name: dc", 1)
	_, err = Decrypt("secret.yaml", "secret.yaml", []byte(tampered), ownerKeys)
	if err == nil || !strings.Contains(err.Error(), "MAC mismatch") {
		t.Errorf("tampered file: %v", err)
	}
}

func TestIsEncrypted(t *testing.T) {
	id, _ := newKey(t)
	tests := []struct {
		path string
		data string
		want bool
	}{
		{"plain.yaml", plainSecret, false},
		{"nested.yaml", "metadata:\n  sops: true\n", false},
		{"enc.yaml", string(encrypt(t, "enc.yaml", plainSecret, "", id)), true},
		{"multi.yaml", string(encrypt(t, "multi.yaml", plainSecret+"---\n"+plainSecret, SecretDataRegex, id)), true},
		{"plain.json", `{"a": 1}`, false},
		{"enc.json", string(encrypt(t, "enc.json", `{"a": "b"}`, "", id)), true},
		{"plain.env", "A=1\n", false},
		{"enc.env", string(encrypt(t, "enc.env", "A=1\n", "", id)), true},
		{"plain.ini", "[main]\na=1\n", false},
		{"enc.ini", string(encrypt(t, "enc.ini", "[main]\na=1\n", "", id)), true},
		{"cert.pem", "-----BEGIN CERTIFICATE-----\n", false},
		{"cert.pem", string(encrypt(t, "cert.pem", "-----BEGIN CERTIFICATE-----\n", "", id)), true},
		{"empty.yaml", "", false},
	}
	for _, tt := range tests {
		if got := IsEncrypted(tt.path, []byte(tt.data)); got != tt.want {
			t.Errorf("IsEncrypted(%s) = %t, want %t", tt.path, got, tt.want)
		}
	}
}

func TestCiphertextStandIn(t *testing.T) {
	id, _ := newKey(t)
	enc := encrypt(t, "s.yaml", plainSecret, SecretDataRegex, id)
	out, err := Ciphertext("s.yaml", enc)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "sops:") || strings.Contains(string(out), "hunter2") || !strings.Contains(string(out), "ENC[") {
		t.Errorf("stand-in:\n%s", out)
	}
}

func TestKeysNeverShowTheKey(t *testing.T) {
	id, k := newKey(t)
	for _, s := range []string{k.String(), k.GoString(), fmt.Sprintf("%v %+v %#v %s", k, k, k, k)} {
		if strings.Contains(s, "AGE-SECRET-KEY") {
			t.Errorf("formatted key shows the secret: %s", s)
		}
	}
	js, err := json.Marshal(map[string]any{"keys": k})
	if err != nil || strings.Contains(string(js), "AGE-SECRET-KEY") || !strings.Contains(string(js), id.Recipient().String()) {
		t.Errorf("json: %s %v", js, err)
	}
	if !strings.Contains(k.AgeKey(), id.String()) {
		t.Errorf("AgeKey lacks the identity")
	}
	if _, err := ParseKeys("AGE-SECRET-KEY-1NOTAKEY", "x"); err == nil || strings.Contains(err.Error(), "NOTAKEY") {
		t.Errorf("bad key error: %v", err)
	}
}

func TestLoadKeys(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv(EnvAgeKey, "")
	t.Setenv(EnvAgeKeyFile, "")
	os.Unsetenv(EnvAgeKey)
	os.Unsetenv(EnvAgeKeyFile)

	if k, err := LoadKeys(""); err != nil || k != nil {
		t.Fatalf("no key anywhere: %v %v", k, err)
	}
	fileID, _ := newKey(t)
	if err := os.WriteFile(filepath.Join(home, "keys.txt"), []byte(fileID.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadKeys("~/keys.txt")
	if err != nil || k.Recipients()[0] != fileID.Recipient().String() || !strings.Contains(k.Source(), "secrets.sops.ageKeyFile") {
		t.Fatalf("ageKeyFile: %v %v", k, err)
	}
	if _, err := LoadKeys("~/missing.txt"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing file: %v", err)
	}

	envID, _ := newKey(t)
	t.Setenv(EnvAgeKey, envID.String())
	k, err = LoadKeys("~/keys.txt")
	if err != nil || len(k.Recipients()) != 1 || k.Recipients()[0] != envID.Recipient().String() {
		t.Fatalf("SOPS_AGE_KEY wins over ageKeyFile: %v %v", k, err)
	}
	t.Setenv(EnvAgeKeyFile, filepath.Join(home, "keys.txt"))
	k, err = LoadKeys("")
	if err != nil || len(k.Recipients()) != 2 {
		t.Fatalf("both env variables: %v %v", k, err)
	}
}

func TestFindCreationRule(t *testing.T) {
	dir := t.TempDir()
	id, _ := newKey(t)
	conf := fmt.Sprintf("creation_rules:\n  - path_regex: .*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: %s\n", id.Recipient())
	if err := os.WriteFile(filepath.Join(dir, ".sops.yaml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "workloads", "app")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	rule, err := FindCreationRule(filepath.Join(sub, "secret.yaml"))
	if err != nil || rule == nil {
		t.Fatalf("rule: %v %v", rule, err)
	}
	if len(rule.Recipients) != 1 || rule.Recipients[0] != id.Recipient().String() || rule.EncryptedRegex != SecretDataRegex {
		t.Errorf("rule = %+v", rule)
	}
	if _, err := FindCreationRule(filepath.Join(sub, "app.env")); err == nil {
		t.Errorf("a file no rule matches should be an error")
	}
}

func TestScrub(t *testing.T) {
	err := fmt.Errorf("wrap: %w", os.ErrNotExist)
	if Scrub(err, []string{"nothing"}) != err {
		t.Errorf("an error without values must come back as is")
	}
	got := Scrub(fmt.Errorf("bad value hunter2 here: %w", os.ErrNotExist), []string{"hunter2"})
	if strings.Contains(got.Error(), "hunter2") || !strings.Contains(got.Error(), "<redacted>") {
		t.Errorf("scrubbed: %v", got)
	}
	if !errors.Is(got, os.ErrNotExist) {
		t.Errorf("scrubbed error lost its chain")
	}
}
