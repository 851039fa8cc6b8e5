package git

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
)

// Environment variables read by AuthFromEnv.
const (
	EnvToken            = "REKINDLE_GIT_TOKEN"
	EnvUsername         = "REKINDLE_GIT_USERNAME"
	EnvPassword         = "REKINDLE_GIT_PASSWORD"
	EnvSSHKey           = "REKINDLE_GIT_SSH_KEY"
	EnvSSHKeyPassphrase = "REKINDLE_GIT_SSH_KEY_PASSPHRASE"
	EnvKnownHosts       = "SSH_KNOWN_HOSTS"
)

// Auth holds the credentials for one repository.
type Auth struct {
	// Token is an HTTPS token, sent as the basic-auth password with username
	// "git" unless Username is set.
	Token    string
	Username string
	Password string
	// SSHKeyFile is the private key for ssh:// and git@host:org/repo URLs.
	// When empty, a running ssh-agent (SSH_AUTH_SOCK) is used.
	SSHKeyFile       string
	SSHKeyPassphrase string
	// KnownHostsFile lists known_hosts files (separated like PATH); default
	// ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts. Host keys are always
	// verified.
	KnownHostsFile string
}

// AuthFromEnv fills Auth from REKINDLE_GIT_TOKEN, REKINDLE_GIT_USERNAME,
// REKINDLE_GIT_PASSWORD, REKINDLE_GIT_SSH_KEY, REKINDLE_GIT_SSH_KEY_PASSPHRASE
// and SSH_KNOWN_HOSTS.
func AuthFromEnv() Auth {
	return Auth{
		Token:            os.Getenv(EnvToken),
		Username:         os.Getenv(EnvUsername),
		Password:         os.Getenv(EnvPassword),
		SSHKeyFile:       os.Getenv(EnvSSHKey),
		SSHKeyPassphrase: os.Getenv(EnvSSHKeyPassphrase),
		KnownHostsFile:   os.Getenv(EnvKnownHosts),
	}
}

// String describes which credentials are set without revealing them.
func (a Auth) String() string {
	var set []string
	if a.Token != "" {
		set = append(set, "token")
	}
	if a.Username != "" {
		set = append(set, "username "+a.Username)
	}
	if a.Password != "" {
		set = append(set, "password")
	}
	if a.SSHKeyFile != "" {
		set = append(set, "ssh key "+a.SSHKeyFile)
	}
	if len(set) == 0 {
		return "no credentials"
	}
	return strings.Join(set, ", ")
}

// secrets are the strings that must never appear in an error.
func (a Auth) secrets(r remote) []string {
	return []string{a.Token, a.Password, a.SSHKeyPassphrase, r.password}
}

// method returns the go-git auth method for r (nil when none is needed or
// given).
func (a Auth) method(r remote) (transport.AuthMethod, error) {
	switch r.scheme {
	case "https", "http":
		return a.httpMethod(r), nil
	case "ssh":
		return a.sshMethod(r)
	default:
		return nil, nil
	}
}

func (a Auth) httpMethod(r remote) transport.AuthMethod {
	user := a.Username
	if user == "" {
		user = r.user
	}
	switch {
	case a.Token != "":
		if user == "" {
			user = "git"
		}
		return &githttp.BasicAuth{Username: user, Password: a.Token}
	case a.Password != "":
		return &githttp.BasicAuth{Username: user, Password: a.Password}
	case r.password != "":
		return &githttp.BasicAuth{Username: r.user, Password: r.password}
	}
	return nil
}

// hasHTTPCredentials reports whether httpMethod sends any credentials.
func (a Auth) hasHTTPCredentials(r remote) bool {
	return a.Token != "" || a.Password != "" || r.password != ""
}

func (a Auth) sshMethod(r remote) (transport.AuthMethod, error) {
	user := r.user
	if user == "" {
		user = "git"
	}
	var helper *gitssh.HostKeyCallbackHelper
	var method transport.AuthMethod
	switch {
	case a.SSHKeyFile != "":
		keys, err := loadSSHKey(user, a.SSHKeyFile, a.SSHKeyPassphrase)
		if err != nil {
			return nil, err
		}
		method, helper = keys, &keys.HostKeyCallbackHelper
	case os.Getenv("SSH_AUTH_SOCK") != "":
		agent, err := gitssh.NewSSHAgentAuth(user)
		if err != nil {
			return nil, fmt.Errorf("%w: ssh-agent: %v; set %s to a private key file", ErrAuthRequired, err, EnvSSHKey)
		}
		method, helper = agent, &agent.HostKeyCallbackHelper
	default:
		return nil, fmt.Errorf("%w: no SSH key: set %s to a private key file (or start an ssh-agent)", ErrAuthRequired, EnvSSHKey)
	}
	files, err := knownHostsFiles(a.KnownHostsFile)
	if err != nil {
		return nil, err
	}
	db, err := gitssh.NewKnownHostsDb(files...)
	if err != nil {
		return nil, fmt.Errorf("read known_hosts %s: %w", strings.Join(files, ", "), err)
	}
	helper.HostKeyCallback = db.HostKeyCallback()
	// Offer only the key types known_hosts has for this host, so a server with
	// several host keys presents one that can be verified.
	helper.HostKeyAlgorithms = db.HostKeyAlgorithms(hostWithPort(r.host))
	return method, nil
}

// loadSSHKey reads a private key, saying which variable to set when it is
// encrypted and no passphrase was given.
func loadSSHKey(user, file, passphrase string) (*gitssh.PublicKeys, error) {
	pem, err := os.ReadFile(expandHome(file))
	if err != nil {
		return nil, fmt.Errorf("load SSH key: %w", err)
	}
	if passphrase == "" {
		var missing *ssh.PassphraseMissingError
		if _, err := ssh.ParsePrivateKey(pem); errors.As(err, &missing) {
			return nil, fmt.Errorf("load SSH key %s: it is encrypted: set %s", file, EnvSSHKeyPassphrase)
		}
	}
	keys, err := gitssh.NewPublicKeys(user, pem, passphrase)
	if err != nil {
		return nil, fmt.Errorf("load SSH key %s: %w", file, err)
	}
	return keys, nil
}

// knownHostsFiles returns the existing known_hosts files to verify against:
// those listed in list (separated like PATH), or the defaults. It fails when
// none exists, since host keys are never accepted unverified.
func knownHostsFiles(list string) ([]string, error) {
	var candidates []string
	if list != "" {
		candidates = filepath.SplitList(list)
	} else {
		if home, err := os.UserHomeDir(); err == nil {
			candidates = append(candidates, filepath.Join(home, ".ssh", "known_hosts"))
		}
		candidates = append(candidates, "/etc/ssh/ssh_known_hosts")
	}
	var out []string
	for _, f := range candidates {
		f = expandHome(f)
		if _, err := os.Stat(f); err == nil {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no known_hosts file (looked for %s); add the host key with ssh-keyscan or set %s",
			ErrHostKey, strings.Join(candidates, ", "), EnvKnownHosts)
	}
	return out, nil
}

func hostWithPort(host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), "22")
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// authHint turns transport errors about credentials and host keys into
// ErrAuthRequired / ErrHostKey with the environment variable to set.
func authHint(err error, r remote, a Auth) error {
	msg := err.Error()
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		if a.hasHTTPCredentials(r) {
			return fmt.Errorf("%w: the server rejected the credentials (%s); check that %s (or %s/%s) can read the repository",
				ErrAuthRequired, a, EnvToken, EnvUsername, EnvPassword)
		}
		return fmt.Errorf("%w: set %s (or %s and %s)", ErrAuthRequired, EnvToken, EnvUsername, EnvPassword)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return fmt.Errorf("%w (check the URL, and the credentials if it is private)", transport.ErrRepositoryNotFound)
	case strings.Contains(msg, "unable to authenticate"):
		return fmt.Errorf("%w: the SSH server rejected the key (%s); set %s to a key it accepts",
			ErrAuthRequired, a, EnvSSHKey)
	case strings.Contains(msg, "knownhosts:"):
		return fmt.Errorf("%w: %v; add the host's key (ssh-keyscan -p PORT HOST) to known_hosts or point %s at a file that has it",
			ErrHostKey, err, EnvKnownHosts)
	}
	return err
}
