// Package terraform provisions an environment's infrastructure with the
// terraform binary, driven through github.com/hashicorp/terraform-exec.
//
// The blueprint checkout is shared by runs and must stay untouched, so New
// never runs terraform in it. Each run copies the module (Options.Root, or
// just Options.Dir) into <StateDir>/module/ and runs there. What lives in
// StateDir, and survives the loss of every cluster:
//
//	terraform.tfstate         local state (unless Options.BackendConfig is set)
//	terraform.tfstate.d/      states of non-default workspaces
//	module/                   working copy, refreshed from the blueprint each run
//	module/<dir>/.terraform/  terraform's data dir, kept across runs (providers, modules)
//	.terraform.lock.hcl       dependency lock written by init, kept across runs
//	                          when the blueprint does not ship its own
//	<workspace>.tfplan(.sum)  the plan saved by Plan and the fingerprint of its inputs
//
// Without BackendConfig a generated rekindle_backend_override.tf in the working
// copy pins a "local" backend at <StateDir>/terraform.tfstate, overriding any
// backend the module declares. With BackendConfig the module's own backend is
// initialised with those -backend-config values.
//
// Errors carry terraform's diagnostic (the "Error: ..." blocks of its stderr,
// first lines only) wrapped once as "terraform <op> in <dir>: <diagnostic>";
// the complete stderr is in (*Error).Stderr and, when Options.Log is set,
// was streamed there as it happened.
//
// Cancelling the context interrupts terraform (SIGINT, then a kill after a
// grace period), which lets it stop in-flight operations and persist the state
// it has; the next run continues from that state.
package terraform
