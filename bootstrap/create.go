package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/backupstore"
	"github.com/rekindle-dev/rekindle/providers/infra"
	"github.com/rekindle-dev/rekindle/providers/infra/terraform"
	"github.com/rekindle-dev/rekindle/providers/sops"
)

// validate renders every cluster of the environment, so that a broken
// workload stops the run before any infrastructure is touched. It is also
// the SOPS preflight: every encrypted file the workloads read must decrypt
// with the age key, else the run stops here naming each file and the
// recipients the key lacks.
func (r *run) validate(ctx context.Context, sum *Summary) (string, bool, error) {
	env, _ := r.repo.Blueprint.Environment(r.env)
	// A broken key setting only matters to an environment with secrets.
	keys, keyErr := LoadKeys(env)
	sopsSet := env.Secrets != nil && env.Secrets.SOPS != nil
	if keyErr != nil && sopsSet {
		return "", false, &UsageError{keyErr.Error()}
	}
	r.keys = keys
	// A cluster whose agent runs in the cluster needs an image that exists:
	// refused here, before any infrastructure, not as an ImagePullBackOff.
	if err := r.checkAgentImages(env, ""); err != nil {
		return "", false, err
	}
	objects := 0
	var files []blueprints.EncryptedFile
	seen := map[string]bool{}
	for _, c := range env.Clusters {
		opts := blueprints.RenderOptions{Keys: keys, OnEncrypted: func(file string, err error) {
			if !seen[file] {
				seen[file] = true
				files = append(files, blueprints.EncryptedFile{Path: file, Err: err})
			}
		}}
		rc, err := r.repo.Render(ctx, r.env, c.Name, opts)
		if ferr := undecryptable(files, keys, keyErr); ferr != nil {
			return "", false, ferr
		}
		if err != nil {
			return "", false, &UsageError{err.Error()}
		}
		objects += len(rc.AllObjects())
		if r.opts.DryRun {
			cs := ClusterSummary{Name: c.Name, Provider: c.Provider, Desired: len(rc.AllObjects())}
			restores := backupstore.Plan(ctx, rc, backupstore.Options{})
			for _, w := range rc.Workloads {
				wp := workloadPlan(w)
				for i := range restores {
					if restores[i].Workload == w.Name {
						wp.Restore = &restores[i]
					}
				}
				cs.Workloads = append(cs.Workloads, wp)
			}
			sum.Clusters = append(sum.Clusters, cs)
		}
	}
	fluxFiles, err := r.validateFlux(env, keyErr)
	if err != nil {
		return "", false, err
	}
	r.placeKey = !keys.Empty() && (len(files) > 0 || len(fluxFiles) > 0 || sopsSet)
	detail := fmt.Sprintf("%d cluster(s), %d object(s) rendered%s", len(env.Clusters), objects, fluxKeyNote(fluxFiles))
	if len(files) > 0 {
		detail += fmt.Sprintf("; %d SOPS-encrypted file(s) decrypt with the age key from %s", len(files), keys.Source())
	}
	return detail, false, nil
}

// LoadKeys finds the environment's age key: SOPS_AGE_KEY, SOPS_AGE_KEY_FILE,
// then secrets.sops.ageKeyFile. No key anywhere is nil, not an error.
func LoadKeys(env *blueprints.Environment) (*sops.Keys, error) {
	file := ""
	if env.Secrets != nil && env.Secrets.SOPS != nil {
		file = env.Secrets.SOPS.AgeKeyFile
	}
	keys, err := sops.LoadKeys(file)
	if err != nil {
		return nil, fmt.Errorf("age key for environment %q: %w", env.Name, err)
	}
	return keys, nil
}

// undecryptable is the preflight's verdict: nil when every encrypted file
// decrypts, else a usage error naming each file that does not.
func undecryptable(files []blueprints.EncryptedFile, keys *sops.Keys, keyErr error) error {
	var lines []string
	noKey := false
	for _, f := range files {
		if f.Err == nil {
			continue
		}
		var de *sops.DecryptError
		if errors.As(f.Err, &de) {
			noKey = noKey || de.NoKey()
			switch {
			case de.Reason != "":
				lines = append(lines, fmt.Sprintf("  %s: %s", f.Path, de.Reason))
			default:
				lines = append(lines, fmt.Sprintf("  %s: encrypted for %s; the key lacks them", f.Path, strings.Join(de.Recipients, ", ")))
			}
			continue
		}
		lines = append(lines, fmt.Sprintf("  %s: %v", f.Path, f.Err))
	}
	if len(lines) == 0 {
		return nil
	}
	head := fmt.Sprintf("%d SOPS-encrypted file(s) do not decrypt with the age key from %s (recipient %s); stopped before infra", len(lines), keys.Source(), strings.Join(keys.Recipients(), ", "))
	if keyErr != nil {
		head = fmt.Sprintf("%d SOPS-encrypted file(s) need an age key, and %v", len(lines), keyErr)
	} else if noKey {
		head = fmt.Sprintf("%d SOPS-encrypted file(s) need an age key, and none is set (%s); stopped before infra", len(lines), sops.KeyHint)
	}
	return &UsageError{head + "\n" + strings.Join(lines, "\n")}
}

func workloadPlan(w blueprints.RenderedWorkload) WorkloadPlan {
	kinds := map[string]int{}
	for _, o := range w.Objects {
		kinds[o.GetKind()]++
	}
	return WorkloadPlan{Name: w.Name, Source: w.Source, Objects: len(w.Objects), Kinds: kinds}
}

// provisioner returns the environment's Terraform, or nil without infra.
func (r *run) provisioner(ctx context.Context) (infra.Provisioner, error) {
	env, _ := r.repo.Blueprint.Environment(r.env)
	if env.Infra == nil || env.Infra.Terraform == nil {
		return nil, nil
	}
	tf := env.Infra.Terraform
	dir, err := r.repo.Path(tf.Dir)
	if err != nil {
		return nil, fmt.Errorf("infra.terraform.dir: %w", err)
	}
	return terraform.New(ctx, terraform.Options{
		Dir:           dir,
		Root:          r.repo.Dir,
		Vars:          tf.Vars,
		StateDir:      r.paths.terraform,
		Workspace:     tf.Workspace,
		BackendConfig: tf.Backend,
		Binary:        r.opts.Terraform,
		Log:           r.opts.Log,
	})
}

// infra plans and applies Terraform. The state lives under the state dir,
// outside every cluster, so it survives their loss.
func (r *run) infra(ctx context.Context, sum *Summary) (string, bool, error) {
	defer func() { r.expand() }()
	if r.opts.Rehearse != "" {
		if cloud := r.cloudResources(); len(cloud) > 0 {
			r.info(StepInfra, "", "rehearsal: skipping Terraform, whose module needs cloud providers (%s); cluster names from its outputs become placeholders", strings.Join(cloud, ", "))
			r.setOutputs(&infra.Outputs{Values: placeholderOutputs(r.repo, r.env)})
			return "skipped in rehearsal: the module needs cloud providers", true, nil
		}
	}
	tf, err := r.provisioner(ctx)
	if err != nil || tf == nil {
		return "no infra in this environment", tf == nil && err == nil, err
	}
	if r.cp.Done(StepInfra) && !r.pipeline.Replan {
		out, err := tf.Outputs(ctx)
		if err == nil && len(out.Values) > 0 {
			r.setOutputs(out)
			return fmt.Sprintf("applied by an earlier run; %d output(s) read from state", len(out.Values)), true, nil
		}
	}
	plan, err := tf.Plan(ctx)
	if err != nil {
		return "", false, err
	}
	sum.InfraPlan = plan.Summary
	r.info(StepInfra, "", "terraform plan: %s", plan.Summary)
	if len(plan.Replace) > 0 && !r.opts.AllowReplace {
		return "", false, fmt.Errorf("the Terraform plan would replace or destroy existing infrastructure (%s); rerun with --allow-replace if that is intended", strings.Join(plan.Replace, ", "))
	}
	if r.opts.DryRun {
		// Outputs of an earlier apply name the clusters; without them the
		// names stay templates until the real run.
		if out, err := tf.Outputs(ctx); err == nil && len(out.Values) > 0 {
			r.outputs = out.Values
		}
		return "plan: " + plan.Summary, false, nil
	}
	// Nothing to change (outputs included): apply would only run the plan
	// again, which is most of a recovery's Terraform time. The outputs are
	// read from the state as they are.
	if !plan.HasChanges {
		if out, err := tf.Outputs(ctx); err == nil {
			r.setOutputs(out)
			return fmt.Sprintf("up to date (%s); outputs read from state: %s", plan.Summary, outputNames(out)), false, nil
		}
	}
	out, err := tf.Apply(ctx)
	if err != nil {
		return "", false, err
	}
	r.setOutputs(out)
	return fmt.Sprintf("applied (%s); outputs: %s", plan.Summary, outputNames(out)), false, nil
}

func (r *run) setOutputs(out *infra.Outputs) {
	r.outputs = out.Values
	// Host-process agents need the outputs to expand cluster names; keep
	// sensitive ones out of the file.
	public := map[string]any{}
	for k, v := range out.Values {
		if !out.Sensitive[k] {
			public[k] = v
		}
	}
	if data, err := json.Marshal(public); err == nil && !r.opts.DryRun {
		if err := writeFileAtomic(r.outputsFile(), data, 0o600); err != nil {
			r.info(StepInfra, "", "could not save outputs for the agents: %v", err)
		}
	}
}

func outputNames(out *infra.Outputs) string {
	names := make([]string, 0, len(out.Values))
	for k := range out.Values {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// expand fills the environment's cluster fields from the outputs; a
// rehearsal substitutes its provider.
func (r *run) expand() {
	env, err := r.repo.Expand(r.env, r.outputs)
	if err != nil {
		r.info(StepInfra, "", "%v", err)
		env, _ = r.repo.Expand(r.env, nil)
	}
	if r.opts.Rehearse != "" {
		for i := range env.Clusters {
			env.Clusters[i].Provider = r.opts.Rehearse
		}
	}
	r.expanded = env
}

// agentCredentialsSecret is the Secret rekindle applies with the agent's
// credentials (key sops-age-key for the age key).
const agentCredentialsSecret = "rekindle-agent-credentials"

func healthyTotal(sum *Summary) int {
	n := 0
	for _, c := range sum.Clusters {
		n += c.Healthy
	}
	return n
}
