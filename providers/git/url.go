package git

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

var remoteSchemes = []string{"https://", "http://", "ssh://", "git://", "file://"}

// scpLike matches user@host:path (the SCP-like syntax git accepts for SSH).
// The user is required, so local paths such as "a:b" stay local.
var scpLike = regexp.MustCompile(`^([A-Za-z0-9._~+-]+)@([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(/?[^/].*)$`)

// IsRemote reports whether s is a Git URL (https://, http://, ssh://, git://,
// file://, git@host:org/repo) rather than a local directory.
func IsRemote(s string) bool {
	s = strings.TrimSpace(s)
	lower := strings.ToLower(s)
	for _, p := range remoteSchemes {
		if strings.HasPrefix(lower, p) {
			return true
		}
	}
	return scpLike.MatchString(s)
}

// remote is a parsed repository URL.
type remote struct {
	// url has no userinfo: it is what go-git connects to and what messages
	// and the cache key use.
	url string
	// scheme is one of https, http, ssh, git, file.
	scheme string
	// host is host[:port] as written (empty for file://).
	host string
	// user and password come from the URL's userinfo, if any.
	user, password string
}

// parseRemote converts SCP-like URLs to ssh:// and splits off credentials.
// Its errors never contain the raw URL (which may hold a password).
func parseRemote(raw string) (remote, error) {
	raw = strings.TrimSpace(raw)
	if m := scpLike.FindStringSubmatch(raw); m != nil && !strings.Contains(raw, "://") {
		p := m[3]
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		raw = "ssh://" + m[1] + "@" + m[2] + p
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL
		}
		return remote{}, fmt.Errorf("invalid Git URL: %w", err)
	}
	r := remote{scheme: strings.ToLower(u.Scheme), host: strings.ToLower(u.Host)}
	switch r.scheme {
	case "https", "http", "ssh", "git":
		if u.Host == "" {
			return remote{}, fmt.Errorf("invalid Git URL: no host")
		}
	case "file":
	default:
		return remote{}, fmt.Errorf("unsupported Git URL scheme %q (want https, http, ssh, git, file or git@host:org/repo)", u.Scheme)
	}
	if u.User != nil {
		r.user = u.User.Username()
		r.password, _ = u.User.Password()
	}
	clean := url.URL{
		Scheme:   r.scheme,
		Host:     r.host,
		Path:     strings.TrimRight(u.Path, "/"),
		RawQuery: u.RawQuery,
	}
	if clean.Path == "" && r.scheme != "file" {
		return remote{}, fmt.Errorf("invalid Git URL: no repository path")
	}
	r.url = clean.String()
	return r, nil
}

// redactURL strips userinfo from a URL-ish string for messages when it could
// not be parsed.
var userinfoRE = regexp.MustCompile(`://[^/@]*@`)

// RedactURL drops credentials (user:password@) from a URL before it is shown or stored.
func RedactURL(raw string) string {
	return userinfoRE.ReplaceAllString(raw, "://")
}

// cacheName is the cache directory name for a repository: readable (the
// sanitized host and path, at most 48 characters, keeping the end where the
// repository name is) and unique (a hash of the whole normalized URL).
func cacheName(r remote) string {
	sum := sha256.Sum256([]byte(r.url))
	rest := r.url[len(r.scheme)+len("://"):]
	var b strings.Builder
	for _, c := range rest {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	name := strings.Trim(b.String(), "_.")
	if len(name) > 48 {
		name = strings.TrimLeft(name[len(name)-48:], "_.")
	}
	if name == "" {
		name = r.scheme
	}
	return name + "-" + hex.EncodeToString(sum[:])[:16]
}
