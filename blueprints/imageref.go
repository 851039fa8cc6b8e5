package blueprints

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
)

// CheckImageRef accepts a container image reference with an explicit tag or
// digest (registry.example/rekindle:v1, ...@sha256:...): an implicit
// :latest would make a recovery depend on whatever that tag holds that day.
func CheckImageRef(ref string) error {
	if _, err := name.ParseReference(ref, name.StrictValidation); err != nil {
		return fmt.Errorf("%q is not an image reference with a tag or digest: %v", ref, err)
	}
	return nil
}
