package image

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// PushOptions configure Push.
type PushOptions struct {
	// CAFile, when set, is a PEM bundle trusted for the registry's TLS
	// certificate in addition to the system's roots (a registry with a
	// private CA, e.g. in an air-gapped network).
	CAFile string
	// Keychain supplies credentials (default authn.DefaultKeychain: Docker's
	// config.json and its credential helpers).
	Keychain authn.Keychain
}

// Push writes a to ref (a tag or a digest reference) and returns the
// pushed reference pinned by digest, repo@sha256:....
func Push(ctx context.Context, a Artifact, ref string, opts PushOptions) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("push image: reference %q: %w", ref, err)
	}
	tr, err := transport(opts.CAFile)
	if err != nil {
		return "", fmt.Errorf("push image %q: %w", ref, err)
	}
	kc := opts.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithTransport(tr)}
	if a.Index != nil {
		err = remote.WriteIndex(r, a.Index, ropts...)
	} else {
		err = remote.Write(r, a.Image, ropts...)
	}
	if err != nil {
		return "", fmt.Errorf("push image %q: %w", ref, err)
	}
	d, err := a.Digest()
	if err != nil {
		return "", fmt.Errorf("push image %q: %w", ref, err)
	}
	return r.Context().Name() + "@" + d.String(), nil
}

// transport verifies TLS against the system roots plus caFile, and refuses
// plain HTTP except to a loopback registry (go-containerregistry falls back
// to HTTP for private-network addresses too; rekindle does not).
func transport(caFile string) (http.RoundTripper, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %q holds no PEM certificate", caFile)
		}
		base.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return tlsOnly{base}, nil
}

type tlsOnly struct{ next http.RoundTripper }

func (t tlsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !loopback(req.URL.Hostname()) {
		return nil, fmt.Errorf("refusing plain HTTP to %s: only a loopback registry may be reached without TLS", req.URL.Host)
	}
	return t.next.RoundTrip(req)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
