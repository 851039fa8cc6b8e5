package blueprints

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Environment variables for remote charts. Credentials are per host,
// never flags, and never printed.
const (
	// EnvHelmCAFile is a PEM bundle every Helm repository and OCI registry
	// may chain to, besides the system's roots and helm.caFile.
	EnvHelmCAFile = "REKINDLE_HELM_CA_FILE"
	// EnvHelmPrefix starts the per-repository credential variables:
	// REKINDLE_HELM_<HOST>_USERNAME and REKINDLE_HELM_<HOST>_PASSWORD, see HelmCredentialEnv.
	EnvHelmPrefix = "REKINDLE_HELM_"
)

// HelmCredentialEnv returns the names of the variables holding the basic
// auth credentials of the Helm repository at rawURL: its host (with the
// port, if any), upper-cased, every character that is not a letter or a
// digit replaced by '_'. https://charts.example.com/stable gives
// REKINDLE_HELM_CHARTS_EXAMPLE_COM_USERNAME and ..._PASSWORD.
func HelmCredentialEnv(rawURL string) (user, password string) {
	host := rawURL
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		host = u.Host
	}
	key := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, host)
	return EnvHelmPrefix + key + "_USERNAME", EnvHelmPrefix + key + "_PASSWORD"
}

// helmCredentials reads the credentials of the repository at rawURL from
// the environment ("" when unset).
func helmCredentials(rawURL string) (user, password string) {
	u, p := HelmCredentialEnv(rawURL)
	return os.Getenv(u), os.Getenv(p)
}

// chartTransport verifies TLS against the system's roots plus caFile (a
// path) and $REKINDLE_HELM_CA_FILE. Verification is never turned off.
func chartTransport(caFile string) (*http.Transport, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, f := range []string{caFile, os.Getenv(EnvHelmCAFile)} {
		if f == "" {
			continue
		}
		pem, err := readLimited(f)
		if err != nil {
			return nil, fmt.Errorf("read CA bundle %s: %w", f, err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", f)
		}
	}
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		DisableCompression:  true,
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 30e9,
	}, nil
}

// dockerConfigFile is Docker's config.json, where OCI registry credentials
// are read from: $DOCKER_CONFIG/config.json or ~/.docker/config.json.
func dockerConfigFile() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".docker", "config.json")
}
