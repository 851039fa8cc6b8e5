package git

import (
	"errors"
	"strings"
)

// Errors that callers can test with errors.Is.
var (
	// ErrRefNotFound means the ref is no branch, tag or commit of the repository.
	ErrRefNotFound = errors.New("reference not found")
	// ErrAuthRequired means the server wants (other) credentials.
	ErrAuthRequired = errors.New("authentication required")
	// ErrHostKey means an SSH host key could not be verified with known_hosts.
	ErrHostKey = errors.New("host key verification failed")
)

// redact hides secrets in err's message while keeping errors.Is/As working.
// Credentials are never handed to code that could echo them, but go-git and
// servers produce the text, so this is the last line of defence.
func redact(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	changed := false
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "***")
			changed = true
		}
	}
	if !changed {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
