// Package infra is the seam between the rekindle pipeline and whatever
// provisions an environment's infrastructure (today: Terraform, see
// providers/infra/terraform).
//
// The pipeline calls Plan first, refuses to continue when Plan.Replace is not
// empty unless the user passed --allow-replace, then calls Apply, which applies
// exactly the plan that was checked when it is still current. Outputs reads
// the outputs of the last apply without changing anything, so that a recovery
// can feed them into cluster templates ({{ .Infra.Outputs.name }}) when the
// infrastructure already exists.
package infra

import "context"

// Plan summarises what an Apply would do.
type Plan struct {
	// Add, Change and Destroy count resource instances the way Terraform's
	// own "Plan: N to add, N to change, N to destroy" line does: a
	// replacement counts once in Add and once in Destroy.
	Add, Change, Destroy int
	// Replace lists the addresses of resource instances that would be
	// replaced or destroyed, sorted. Recovery refuses to proceed without
	// --allow-replace when it is not empty.
	Replace []string
	// Summary is human text such as "2 to add, 0 to change, 0 to destroy",
	// followed by "; replace: a, b" and "; destroy: c" when there are any,
	// or "; outputs change" when only outputs differ.
	Summary string
	// HasChanges reports whether applying would change anything, outputs
	// included.
	HasChanges bool
}

// Outputs are the values of the root module's outputs after an apply.
type Outputs struct {
	// Values holds every output as a plain Go value decoded from JSON:
	// string, float64, bool, nil, []any or map[string]any. Sensitive
	// outputs are included with their real value.
	Values map[string]any
	// Sensitive names the outputs Terraform marks sensitive. Never print or
	// log their values; use Redacted for display.
	Sensitive map[string]bool
}

// Redacted returns a copy of Values in which every sensitive value is
// replaced by the string "(sensitive)", for printing and reports.
func (o *Outputs) Redacted() map[string]any {
	if o == nil {
		return nil
	}
	r := make(map[string]any, len(o.Values))
	for k, v := range o.Values {
		if o.Sensitive[k] {
			v = "(sensitive)"
		}
		r[k] = v
	}
	return r
}

// Provisioner provisions the infrastructure of one environment. Every method
// is idempotent and safe to call again after an interrupted run.
type Provisioner interface {
	// Plan initialises the working directory (idempotent) and computes a
	// plan, which it saves for Apply.
	Plan(ctx context.Context) (*Plan, error)
	// Apply applies the plan saved by Plan when it is still current (same
	// module, variables, workspace and state), otherwise it plans and
	// applies afresh. It returns the outputs afterwards.
	Apply(ctx context.Context) (*Outputs, error)
	// Outputs reads the outputs from the state without changing anything.
	Outputs(ctx context.Context) (*Outputs, error)
	// Destroy destroys everything in the state.
	Destroy(ctx context.Context) error
}
