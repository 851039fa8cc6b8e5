package backupstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/rekindle-dev/rekindle/bootstrap/restore"
)

// Store reads one location's backups from its bucket.
type Store struct {
	loc    Location
	client *s3.Client
	creds  credentials
}

// metadataFile is the Backup object Velero writes beside each backup.
const metadataFile = "velero-backup.json"

// reads is how many velero-backup.json files are fetched at once.
const reads = 8

// Open connects to the location's bucket with creds, as
// velero-plugin-for-aws does: spec.config.s3Url as the endpoint,
// s3ForcePathStyle, region (asked of the bucket when unset and no s3Url
// is given), insecureSkipTLSVerify and spec.objectStorage.caCert.
func Open(ctx context.Context, loc Location, creds credentials) (*Store, error) {
	if !loc.awsProvider() {
		return nil, fmt.Errorf("%s has provider %q: rekindle reads only aws (S3) locations", loc, loc.Provider)
	}
	if loc.Bucket == "" {
		return nil, fmt.Errorf("%s has no spec.objectStorage.bucket", loc)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: loc.insecure} //nolint:gosec // the location's own insecureSkipTLSVerify
	if len(loc.caCert) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pool.AppendCertsFromPEM(loc.caCert)
		tr.TLSClientConfig.RootCAs = pool
	}
	cfg := aws.Config{
		Region:                     loc.Region,
		Credentials:                awscreds.NewStaticCredentialsProvider(creds.accessKey, creds.secretKey, creds.sessionToken),
		HTTPClient:                 &http.Client{Transport: tr, Timeout: 30 * time.Second},
		RetryMaxAttempts:           2,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	opts := func(o *s3.Options) {
		if loc.URL != "" {
			o.BaseEndpoint = aws.String(loc.URL)
		}
		o.UsePathStyle = loc.pathStyle
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
		if loc.URL == "" {
			region, err := manager.GetBucketRegion(ctx, s3.NewFromConfig(cfg, opts), loc.Bucket)
			if err != nil {
				return nil, fmt.Errorf("%s: find the bucket's region (spec.config.region is unset): %s", loc, scrub(err, creds))
			}
			cfg.Region = region
		}
	}
	return &Store{loc: loc, client: s3.NewFromConfig(cfg, opts), creds: creds}, nil
}

// backupsDir is Velero's <prefix>/backups/ (ObjectStoreLayout).
func (s *Store) backupsDir() string {
	prefix := s.loc.Prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return path.Join(prefix, "backups") + "/"
}

// Names lists the backups in the bucket: the common prefixes under
// <prefix>/backups/, as Velero's ListBackups does.
func (s *Store) Names(ctx context.Context) ([]string, error) {
	dir := s.backupsDir()
	var names []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.loc.Bucket), Prefix: aws.String(dir), Delimiter: aws.String("/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: list %s: %s", s.loc, dir, scrub(err, s.creds))
		}
		for _, cp := range page.CommonPrefixes {
			if n := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), dir), "/"); n != "" {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// Backup reads one backup's velero-backup.json; nil when the bucket has none.
func (s *Store) Backup(ctx context.Context, name string) (*restore.Backup, error) {
	u, err := s.metadata(ctx, name)
	if err != nil || u == nil {
		return nil, err
	}
	b := restore.BackupOf(u)
	if b.Location == "" {
		b.Location = s.loc.Name
	}
	// Velero's sync puts the backup in the location's namespace, whatever
	// namespace the cluster that made it used.
	b.Namespace = s.loc.Namespace
	return &b, nil
}

// metadata is the Backup object of one backup's velero-backup.json, as
// Velero wrote it; nil when the bucket has none.
func (s *Store) metadata(ctx context.Context, name string) (*unstructured.Unstructured, error) {
	key := path.Join(s.backupsDir(), name, metadataFile)
	data, err := s.get(ctx, key)
	if err != nil || data == nil {
		return nil, err
	}
	// apimachinery's json turns whole numbers into int64, as a cluster's
	// objects hold them (encoding/json's float64 would read 0 items).
	u := &unstructured.Unstructured{}
	if err := utiljson.Unmarshal(data, &u.Object); err != nil {
		return nil, fmt.Errorf("%s: %s is not a Backup object: %v", s.loc, key, err)
	}
	if k := u.GetKind(); k != "Backup" && k != "" {
		return nil, fmt.Errorf("%s: %s holds a %q, not a Backup", s.loc, key, u.GetKind())
	}
	return u, nil
}

// get reads one object of the bucket (at most 16 MiB); nil when there is none.
func (s *Store) get(ctx context.Context, key string) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.loc.Bucket), Key: aws.String(key)})
	if err != nil {
		var nsk *s3types.NoSuchKey
		if errors.As(err, &nsk) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: read %s: %s", s.loc, key, scrub(err, s.creds))
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %s", s.loc, key, scrub(err, s.creds))
	}
	return data, nil
}

// Backups reads every backup in the bucket, a few at a time.
func (s *Store) Backups(ctx context.Context) ([]restore.Backup, error) {
	names, err := s.Names(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*restore.Backup, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, reads)
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i], errs[i] = s.Backup(ctx, n)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var backups []restore.Backup
	for _, b := range out {
		if b != nil {
			backups = append(backups, *b)
		}
	}
	return backups, nil
}

// scrub is err's message without the credentials' values.
func scrub(err error, c credentials) string {
	msg := err.Error()
	for _, v := range []string{c.secretKey, c.sessionToken, c.accessKey} {
		if len(v) >= 4 {
			msg = strings.ReplaceAll(msg, v, "<redacted>")
		}
	}
	return msg
}
