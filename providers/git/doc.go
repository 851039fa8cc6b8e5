// Package git fetches blueprint repositories at a ref with go-git.
//
// Fetch keeps one bare clone per repository URL under a cache directory (the
// directory name is the sanitized host and path plus a short hash of the URL,
// never credentials). The first Fetch clones; later ones fetch incrementally.
// The requested ref (branch, tag, full or short commit SHA, or empty for the
// remote's default branch) is resolved to a commit, and that commit's tree is
// written to its own directory, checkouts/<sha>, which is returned as
// Checkout.Dir. A checkout directory holds exactly the commit's files (no .git)
// and is re-verified and rewritten on every Fetch if something changed it;
// checkouts not used for 24 hours are pruned. A file lock around fetch and
// checkout lets several processes share one cache safely (on Unix).
//
// When Ref is a full commit SHA that is already in the cache, Fetch does not
// contact the remote at all, so recovery from a pinned commit works while the
// Git host is down.
//
// Supported URLs: https://, http://, ssh://, git://, file:// and SCP-like
// git@host:org/repo (converted to ssh://git@host/org/repo). Credentials in a
// URL's userinfo are used for HTTP basic auth but are stripped from every
// message and path.
//
// Credentials come from Auth, usually filled by AuthFromEnv from:
//
//	REKINDLE_GIT_TOKEN               HTTPS token, sent as the basic-auth password
//	                                 (username "git" unless REKINDLE_GIT_USERNAME is set)
//	REKINDLE_GIT_USERNAME            HTTPS basic-auth username
//	REKINDLE_GIT_PASSWORD            HTTPS basic-auth password (when no token is set)
//	REKINDLE_GIT_SSH_KEY             private key file for ssh:// and git@host:org/repo
//	                                 (without it, a running ssh-agent is used)
//	REKINDLE_GIT_SSH_KEY_PASSPHRASE  passphrase of that key, if it is encrypted
//	SSH_KNOWN_HOSTS                  known_hosts file(s), separated like PATH
//	                                 (default ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts)
//
// SSH host keys are always verified against known_hosts; there is no option to
// skip that. Tokens, passwords and passphrases never appear in errors.
//
// CommitOf reports the HEAD commit of a local blueprint directory and whether
// it has uncommitted changes.
package git
