// Package backupstore reads Velero's backups where Velero keeps them: in
// the object store of a BackupStorageLocation, not in a cluster. A cluster
// being recovered is usually gone, and its Backup objects with it; the
// bucket still holds, for each backup, <prefix>/backups/<name>/velero-backup.json
// (the Backup object, its labels and status) beside <name>.tar.gz, which is
// what Velero's backup sync reads into a new cluster
// (pkg/persistence/object_store_layout.go in Velero v1.18.3).
//
// The location and its credentials come from the blueprint's render: the
// velero workload's BackupStorageLocation (provider aws: S3 and
// S3-compatible stores) and the Secret its spec.credential names, in the
// AWS cloud-file format velero-plugin-for-aws reads (decrypted from SOPS by
// the render). Plan uses it for `blueprint plan` and `--dry-run`: which
// backup each restore workload would restore, its age and its object count.
// Credentials never leave this package: not in a String, an error or JSON.
package backupstore

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rekindle-dev/rekindle/blueprints"
)

// Location is a BackupStorageLocation as the blueprint declares it.
type Location struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Provider  string `json:"provider"`
	Bucket    string `json:"bucket"`
	Prefix    string `json:"prefix,omitempty"`
	// URL is spec.config.s3Url ("" for AWS's own endpoints).
	URL    string `json:"url,omitempty"`
	Region string `json:"region,omitempty"`

	pathStyle bool
	insecure  bool
	caCert    []byte
	profile   string
	// credential is spec.credential: the Secret key holding the cloud file.
	credName, credKey string
}

// String names the location and where it points, never its credentials.
func (l Location) String() string {
	s := fmt.Sprintf("BackupStorageLocation %s/%s (s3://%s", l.Namespace, l.Name, l.Bucket)
	if l.Prefix != "" {
		s += "/" + strings.Trim(l.Prefix, "/")
	}
	if l.URL != "" {
		s += " at " + l.URL
	}
	return s + ")"
}

// Locations are the BackupStorageLocations a cluster's render declares in
// namespace ns.
func Locations(rc *blueprints.RenderedCluster, ns string) []Location {
	var out []Location
	for _, w := range rc.Workloads {
		for _, o := range w.Objects {
			if o.GetKind() != "BackupStorageLocation" || o.GetAPIVersion() != "velero.io/v1" || o.GetNamespace() != ns {
				continue
			}
			out = append(out, locationOf(o))
		}
	}
	return out
}

func locationOf(o *unstructured.Unstructured) Location {
	str := func(f ...string) string {
		s, _, _ := unstructured.NestedFieldNoCopy(o.Object, f...)
		return fmt.Sprint(orEmpty(s))
	}
	l := Location{Namespace: o.GetNamespace(), Name: o.GetName(), Provider: str("spec", "provider"),
		Bucket: str("spec", "objectStorage", "bucket"), Prefix: str("spec", "objectStorage", "prefix"),
		URL: str("spec", "config", "s3Url"), Region: str("spec", "config", "region"),
		profile:  str("spec", "config", "profile"),
		credName: str("spec", "credential", "name"), credKey: str("spec", "credential", "key")}
	// Velero's config values are strings; a YAML true is tolerated too.
	l.pathStyle, _ = strconv.ParseBool(str("spec", "config", "s3ForcePathStyle"))
	l.insecure, _ = strconv.ParseBool(str("spec", "config", "insecureSkipTLSVerify"))
	if ca := str("spec", "objectStorage", "caCert"); ca != "" {
		l.caCert, _ = base64.StdEncoding.DecodeString(ca)
	}
	return l
}

func orEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}

// awsProvider reports whether velero-plugin-for-aws serves the location.
func (l Location) awsProvider() bool {
	return l.Provider == "aws" || l.Provider == "velero.io/aws"
}

// credentialRef is where the location's credentials are: the Secret and
// key spec.credential names, else key "cloud" of DefaultCredentialsSecret,
// and the profile of that file (spec.config.profile, else "default").
func (l Location) credentialRef() (secret, key, profile string) {
	secret, key, profile = l.credName, l.credKey, l.profile
	if secret == "" {
		secret, key = DefaultCredentialsSecret, "cloud"
	}
	if profile == "" {
		profile = "default"
	}
	return secret, key, profile
}

// credentials is one profile of an AWS credentials file. It has no String
// of its own fields: fmt prints it redacted.
type credentials struct {
	accessKey, secretKey, sessionToken string
}

func (credentials) String() string   { return "<redacted>" }
func (credentials) GoString() string { return "<redacted>" }

// DefaultCredentialsSecret is the Secret `velero install` creates and a
// location without spec.credential uses (key "cloud", mounted as the AWS
// credentials file of Velero's Deployment).
const DefaultCredentialsSecret = "cloud-credentials"

// credentialsFor finds the location's credentials: the Secret key that
// spec.credential names, else the key "cloud" of DefaultCredentialsSecret,
// both from the render; else AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
// or AWS_SHARED_CREDENTIALS_FILE, from getenv. It says where they came
// from, or why there are none.
func credentialsFor(rc *blueprints.RenderedCluster, l Location, getenv func(string) string) (credentials, string, error) {
	name, key, profile := l.credentialRef()
	data, found, keyFound := secretValue(rc, l.Namespace, name, key)
	switch {
	case keyFound:
		c, err := parseCloudFile(data, profile)
		if err != nil {
			return credentials{}, "", fmt.Errorf("credentials in Secret %s/%s key %s: %w", l.Namespace, name, key, err)
		}
		return c, fmt.Sprintf("Secret %s/%s", l.Namespace, name), nil
	case l.credName != "" && found:
		return credentials{}, "", fmt.Errorf("missing credentials: Secret %s/%s in the blueprint has no key %q (spec.credential of %s)", l.Namespace, name, key, l)
	case l.credName != "":
		return credentials{}, "", fmt.Errorf("missing credentials: Secret %s/%s (spec.credential of %s) is not in the blueprint", l.Namespace, name, l)
	}
	if ak, sk := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"); ak != "" && sk != "" {
		return credentials{accessKey: ak, secretKey: sk, sessionToken: getenv("AWS_SESSION_TOKEN")}, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", nil
	}
	if f := getenv("AWS_SHARED_CREDENTIALS_FILE"); f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			return credentials{}, "", fmt.Errorf("missing credentials: AWS_SHARED_CREDENTIALS_FILE: %w", err)
		}
		c, err := parseCloudFile(data, profile)
		if err != nil {
			return credentials{}, "", fmt.Errorf("credentials in AWS_SHARED_CREDENTIALS_FILE %s: %w", f, err)
		}
		return c, "AWS_SHARED_CREDENTIALS_FILE", nil
	}
	return credentials{}, "", fmt.Errorf("missing credentials: %s has no spec.credential, the blueprint has no Secret %s/%s, and neither AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY nor AWS_SHARED_CREDENTIALS_FILE is set",
		l, l.Namespace, DefaultCredentialsSecret)
}

// secretValue is key of the rendered Secret ns/name (data is base64,
// stringData plain), whether the Secret exists, and whether it has key.
func secretValue(rc *blueprints.RenderedCluster, ns, name, key string) ([]byte, bool, bool) {
	for _, w := range rc.Workloads {
		for _, o := range w.Objects {
			if o.GetKind() != "Secret" || o.GetAPIVersion() != "v1" || o.GetName() != name || o.GetNamespace() != ns {
				continue
			}
			if s, ok, _ := unstructured.NestedString(o.Object, "stringData", key); ok {
				return []byte(s), true, true
			}
			if s, ok, _ := unstructured.NestedString(o.Object, "data", key); ok {
				b, err := base64.StdEncoding.DecodeString(s)
				return b, true, err == nil
			}
			return nil, true, false
		}
	}
	return nil, false, false
}

// parseCloudFile reads profile of an AWS shared credentials file (INI:
// [profile], aws_access_key_id, aws_secret_access_key, aws_session_token).
// Errors never quote the file.
func parseCloudFile(data []byte, profile string) (credentials, error) {
	var c credentials
	section, seen := "", false
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
			continue
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.TrimSpace(strings.TrimPrefix(strings.Trim(line, "[]"), "profile "))
			seen = seen || section == profile
			continue
		}
		if section != profile {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "aws_access_key_id":
			c.accessKey = strings.TrimSpace(v)
		case "aws_secret_access_key":
			c.secretKey = strings.TrimSpace(v)
		case "aws_session_token":
			c.sessionToken = strings.TrimSpace(v)
		}
	}
	switch {
	case !seen:
		return c, fmt.Errorf("no [%s] profile", profile)
	case c.accessKey == "" || c.secretKey == "":
		return c, fmt.Errorf("profile [%s] lacks aws_access_key_id or aws_secret_access_key", profile)
	}
	return c, nil
}
