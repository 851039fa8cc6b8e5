//go:build !unix

package git

import "context"

// lockFile is a no-op where flock is not available: concurrent fetches of the
// same repository from several processes are then not serialized.
func lockFile(context.Context, string) (func(), error) {
	return func() {}, nil
}
