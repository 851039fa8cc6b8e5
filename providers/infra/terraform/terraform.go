package terraform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/rekindle-dev/rekindle/providers/infra"
)

// Options configure a Terraform provisioner.
type Options struct {
	// Dir is the root module in the checked-out blueprint. It is only read:
	// terraform runs in a copy under StateDir.
	Dir string
	// Root, when set, is the blueprint checkout that contains Dir. The whole
	// tree is copied (without .git) so that module sources such as
	// "../modules/net" resolve, and errors name Dir relative to Root
	// ("infra/dev"). When empty only Dir is copied and errors name Dir as
	// given.
	Root string
	// Vars are passed as -var: strings as they are, everything else
	// JSON-encoded (which Terraform reads as an HCL expression).
	Vars map[string]any
	// StateDir holds the local state (<StateDir>/terraform.tfstate), the
	// working copy and the saved plan. It must survive the loss of clusters.
	StateDir string
	// Workspace is selected (and created when missing) after init; empty
	// means the current one, "default" on a fresh StateDir.
	Workspace string
	// BackendConfig, when set, makes init use the module's own backend with
	// these -backend-config key=value pairs instead of the local state in
	// StateDir.
	BackendConfig map[string]string
	// Binary is the terraform executable, a path or a name looked up on
	// PATH; default "terraform".
	Binary string
	// Log receives terraform's stdout and stderr and the commands run.
	// Pass it at high verbosity; nil discards.
	Log io.Writer
}

type provisioner struct {
	opts     Options
	label    string // Dir as the user knows it, for errors
	stateDir string // absolute
	srcRoot  string // absolute: what is copied
	workRoot string // <stateDir>/module: where it is copied to
	runDir   string // the copy of Dir inside workRoot: where terraform runs
	planPath string

	tf    *tfexec.Terraform // streams output to Log
	quiet *tfexec.Terraform // JSON-producing commands (show, output) whose stdout would flood Log

	mu        sync.Mutex
	moduleSum string // hash of the working copy, set by prepare
}

var _ infra.Provisioner = (*provisioner)(nil)

// New checks the options, finds the terraform binary and creates StateDir.
// It runs no terraform command: every method prepares the working copy
// (copy, init, workspace) on first use.
func New(ctx context.Context, opts Options) (infra.Provisioner, error) {
	_ = ctx // reserved: New does no I/O that needs cancelling today
	if opts.Dir == "" {
		return nil, errors.New("terraform: module dir is empty")
	}
	if opts.StateDir == "" {
		return nil, errors.New("terraform: state dir is empty")
	}
	bin, err := findBinary(opts.Binary)
	if err != nil {
		return nil, err
	}
	p := &provisioner{opts: opts, label: filepath.ToSlash(filepath.Clean(opts.Dir))}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("terraform module %s: %w", p.label, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("terraform module %s: not a directory", p.label)
	}
	if p.stateDir, err = filepath.Abs(opts.StateDir); err != nil {
		return nil, err
	}
	p.srcRoot, p.workRoot = dir, filepath.Join(p.stateDir, "module")
	p.runDir = p.workRoot
	if opts.Root != "" {
		root, err := filepath.Abs(opts.Root)
		if err != nil {
			return nil, err
		}
		rel, err := filepath.Rel(root, dir)
		if err != nil || !within(dir, root) {
			return nil, fmt.Errorf("terraform module %s is not inside the blueprint %s", opts.Dir, opts.Root)
		}
		p.srcRoot, p.runDir, p.label = root, filepath.Join(p.workRoot, rel), filepath.ToSlash(rel)
	}
	ws := opts.Workspace
	if ws == "" {
		ws = "default"
	}
	p.planPath = filepath.Join(p.stateDir, ws+".tfplan")

	if within(p.stateDir, p.srcRoot) {
		return nil, fmt.Errorf("terraform state dir %s is inside the blueprint %s; it must be outside", p.stateDir, p.srcRoot)
	}
	// NewTerraform wants its working dir to exist; prepare fills it.
	if err := os.MkdirAll(p.runDir, 0o700); err != nil {
		return nil, fmt.Errorf("terraform state dir: %w", err)
	}
	if p.tf, err = tfexec.NewTerraform(p.runDir, bin); err != nil {
		return nil, err
	}
	if p.quiet, err = tfexec.NewTerraform(p.runDir, bin); err != nil {
		return nil, err
	}
	if opts.Log != nil {
		p.tf.SetStdout(opts.Log)
		p.tf.SetStderr(opts.Log)
		p.tf.SetLogger(log.New(opts.Log, "", 0))
		p.quiet.SetStderr(opts.Log)
		p.quiet.SetLogger(log.New(opts.Log, "", 0))
	}
	return p, nil
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func findBinary(bin string) (string, error) {
	if bin == "" {
		path, err := exec.LookPath("terraform")
		if err != nil {
			return "", errors.New("terraform not found on PATH; install it or pass --terraform")
		}
		return path, nil
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("terraform binary %s: %w", bin, err)
	}
	return path, nil
}

// prepare refreshes the working copy, runs init and selects the workspace.
// It runs once per provisioner; init is idempotent and fast when the data
// dir from an earlier run is still there.
func (p *provisioner) prepare(ctx context.Context) error {
	if p.moduleSum != "" {
		return nil
	}
	sum, err := p.refresh()
	if err != nil {
		return fmt.Errorf("terraform working copy of %s: %w", p.label, err)
	}
	initOpts := []tfexec.InitOption{tfexec.Reconfigure(true), tfexec.Upgrade(false)}
	for _, kv := range sortedKV(p.opts.BackendConfig) {
		initOpts = append(initOpts, tfexec.BackendConfig(kv))
	}
	if err := p.tf.Init(ctx, initOpts...); err != nil {
		return p.wrap(ctx, "init", err)
	}
	if err := p.selectWorkspace(ctx); err != nil {
		return err
	}
	p.moduleSum = sum
	return nil
}

func (p *provisioner) selectWorkspace(ctx context.Context) error {
	ws := p.opts.Workspace
	if ws == "" {
		return nil
	}
	all, current, err := p.quiet.WorkspaceList(ctx)
	if err != nil {
		return p.wrap(ctx, "workspace list", err)
	}
	if current == ws {
		return nil
	}
	for _, w := range all {
		if w == ws {
			return p.wrap(ctx, "workspace select", p.quiet.WorkspaceSelect(ctx, ws))
		}
	}
	return p.wrap(ctx, "workspace new", p.quiet.WorkspaceNew(ctx, ws))
}

// varArgs renders Vars as name=value for -var, sorted for stable commands.
func (p *provisioner) varArgs() ([]string, error) {
	var out []string
	for k, v := range p.opts.Vars {
		s, ok := v.(string)
		if !ok {
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("terraform variable %s: %w", k, err)
			}
			s = string(b)
		}
		out = append(out, k+"="+s)
	}
	sort.Strings(out)
	return out, nil
}

func sortedKV(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Plan implements infra.Provisioner.
func (p *provisioner) Plan(ctx context.Context) (*infra.Plan, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.prepare(ctx); err != nil {
		return nil, err
	}
	vars, err := p.varArgs()
	if err != nil {
		return nil, err
	}
	fp, err := p.fingerprint(p.moduleSum)
	if err != nil {
		return nil, err
	}
	p.discardPlan()
	opts := []tfexec.PlanOption{tfexec.Out(p.planPath)}
	for _, v := range vars {
		opts = append(opts, tfexec.Var(v))
	}
	changes, err := p.tf.Plan(ctx, opts...)
	if err != nil {
		return nil, p.wrap(ctx, "plan", err)
	}
	tp, err := p.quiet.ShowPlanFile(ctx, p.planPath)
	if err != nil {
		return nil, p.wrap(ctx, "show", err)
	}
	if err := os.WriteFile(p.planPath+".sum", []byte(fp), 0o600); err != nil {
		return nil, err
	}
	return summarize(tp, changes), nil
}

// Apply implements infra.Provisioner. It applies the plan saved by Plan when
// the module, variables, workspace and state are the ones it was computed
// from, so what was checked (Plan.Replace) is exactly what happens;
// otherwise it runs a fresh apply.
func (p *provisioner) Apply(ctx context.Context) (*infra.Outputs, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.prepare(ctx); err != nil {
		return nil, err
	}
	defer p.discardPlan() // applied or stale: never apply it twice
	var opts []tfexec.ApplyOption
	if p.savedPlanCurrent() {
		opts = append(opts, tfexec.DirOrPlan(p.planPath))
	} else {
		vars, err := p.varArgs()
		if err != nil {
			return nil, err
		}
		for _, v := range vars {
			opts = append(opts, tfexec.Var(v))
		}
	}
	if err := p.tf.Apply(ctx, opts...); err != nil {
		return nil, p.wrap(ctx, "apply", err)
	}
	return p.outputs(ctx)
}

func (p *provisioner) savedPlanCurrent() bool {
	want, err := os.ReadFile(p.planPath + ".sum")
	if err != nil {
		return false
	}
	if _, err := os.Stat(p.planPath); err != nil {
		return false
	}
	got, err := p.fingerprint(p.moduleSum)
	return err == nil && got == string(want)
}

func (p *provisioner) discardPlan() {
	os.Remove(p.planPath + ".sum")
	os.Remove(p.planPath)
}

// Outputs implements infra.Provisioner.
func (p *provisioner) Outputs(ctx context.Context) (*infra.Outputs, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.prepare(ctx); err != nil {
		return nil, err
	}
	return p.outputs(ctx)
}

func (p *provisioner) outputs(ctx context.Context) (*infra.Outputs, error) {
	metas, err := p.quiet.Output(ctx)
	if err != nil {
		return nil, p.wrap(ctx, "output", err)
	}
	out := &infra.Outputs{Values: map[string]any{}, Sensitive: map[string]bool{}}
	for name, m := range metas {
		var v any
		if len(m.Value) > 0 {
			if err := json.Unmarshal(m.Value, &v); err != nil {
				return nil, fmt.Errorf("terraform output %s in %s: %w", name, p.label, err)
			}
		}
		out.Values[name] = v
		if m.Sensitive {
			out.Sensitive[name] = true
		}
	}
	return out, nil
}

// Destroy implements infra.Provisioner.
func (p *provisioner) Destroy(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.prepare(ctx); err != nil {
		return err
	}
	p.discardPlan()
	vars, err := p.varArgs()
	if err != nil {
		return err
	}
	var opts []tfexec.DestroyOption
	for _, v := range vars {
		opts = append(opts, tfexec.Var(v))
	}
	return p.wrap(ctx, "destroy", p.tf.Destroy(ctx, opts...))
}
