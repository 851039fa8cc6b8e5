package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap"
	"github.com/rekindle-dev/rekindle/providers/sops"
)

func newSecretsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Encrypt blueprint files with SOPS (age) and check that they decrypt",
		Long: `Blueprint repos hold secrets encrypted with SOPS for age recipients; rekindle
decrypts them when it renders (plain YAML files, kustomize inputs including
secretGenerator envs and files, Helm valuesFiles). The age key comes from
SOPS_AGE_KEY_FILE or SOPS_AGE_KEY, else the environment's
secrets.sops.ageKeyFile; bootstrap and recover place it in each cluster
before the agent starts.`,
	}
	cmd.AddCommand(newSecretsEncryptCmd(g), newSecretsCheckCmd(g))
	return asGroup(cmd)
}

type encryptFlags struct {
	recipients       []string
	inPlace          bool
	encryptedRegex   string
	unencryptedRegex string
}

func newSecretsEncryptCmd(g *globals) *cobra.Command {
	var f encryptFlags
	cmd := &cobra.Command{
		Use:   "encrypt FILE",
		Short: "Encrypt a file for age recipients (by default only data/stringData of Secrets)",
		Long: `Encrypt FILE with SOPS for age recipients and print it, or rewrite it with
--in-place. The format follows the extension: .yaml/.yml and .json encrypt
only the keys matching --encrypted-regex (default ^(data|stringData)$, the
values of Kubernetes Secrets, so the rest stays readable); .env, .ini and any
other file (for kustomize secretGenerator envs and files) are encrypted whole.

Recipients come from --age, else from the creation rule of the nearest
.sops.yaml that matches FILE (its encrypted_regex, if any, is used too).`,
		Example: `  rekindle secrets encrypt workloads/app/secret.yaml --age age1... --in-place
  rekindle secrets encrypt workloads/app/app.env --in-place   # recipients from .sops.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSecretsEncrypt(g, &f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.recipients, "age", nil, "age recipients (public keys, age1...), comma-separated or repeated")
	fl.BoolVarP(&f.inPlace, "in-place", "i", false, "rewrite FILE instead of printing the result")
	fl.StringVar(&f.encryptedRegex, "encrypted-regex", "", "encrypt only YAML/JSON keys matching this (default ^(data|stringData)$, or the .sops.yaml rule's)")
	fl.StringVar(&f.unencryptedRegex, "unencrypted-regex", "", "leave YAML/JSON keys matching this in clear (instead of --encrypted-regex)")
	return cmd
}

func runSecretsEncrypt(g *globals, f *encryptFlags, file string) error {
	if f.encryptedRegex != "" && f.unencryptedRegex != "" {
		return usageErrorf("--encrypted-regex and --unencrypted-regex exclude each other")
	}
	info, err := os.Stat(file)
	if err != nil {
		return usageErrorf("%v", err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return usageErrorf("%v", err)
	}
	opts := sops.EncryptOptions{Recipients: f.recipients, EncryptedRegex: f.encryptedRegex, UnencryptedRegex: f.unencryptedRegex}
	if len(opts.Recipients) == 0 {
		rule, err := sops.FindCreationRule(file)
		if err != nil {
			return usageErrorf("%v", err)
		}
		if rule == nil {
			return usageErrorf("no recipients: pass --age age1... or add a .sops.yaml with a creation rule for %s", file)
		}
		opts.Recipients = rule.Recipients
		if opts.EncryptedRegex == "" && opts.UnencryptedRegex == "" {
			opts.EncryptedRegex, opts.UnencryptedRegex = rule.EncryptedRegex, rule.UnencryptedRegex
		}
	}
	format := sops.FormatForPath(file)
	structured := format == sops.YAML || format == sops.JSON
	if structured && opts.EncryptedRegex == "" && opts.UnencryptedRegex == "" {
		opts.EncryptedRegex = sops.SecretDataRegex
	}
	out, err := sops.Encrypt(file, data, opts)
	if errors.Is(err, sops.ErrNothingEncrypted) {
		return usageErrorf("%s: no value matches %s, so nothing would be encrypted (is it a Secret with data or stringData?)", file, firstNonEmptyString(opts.EncryptedRegex, "--unencrypted-regex "+opts.UnencryptedRegex))
	}
	if err != nil {
		return usageErrorf("%v", err)
	}
	if !f.inPlace {
		_, err := g.streams.Out.Write(out)
		return err
	}
	if err := writeFileAtomic(file, out, info.Mode().Perm()); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	if !g.quiet {
		fmt.Fprintf(g.streams.Err, "encrypted %s (%s) for %s\n", file, format, strings.Join(opts.Recipients, ", "))
	}
	return nil
}

func firstNonEmptyString(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// writeFileAtomic replaces path with data through a temporary file in the
// same directory, so an interrupted write never leaves half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func newSecretsCheckCmd(g *globals) *cobra.Command {
	var src sourceFlags
	cmd := &cobra.Command{
		Use:   "check",
		Short: "List the encrypted files an environment reads and whether they decrypt (exit 1 if any does not)",
		Long: `Render every cluster of the environment with the age key (SOPS_AGE_KEY_FILE,
SOPS_AGE_KEY or secrets.sops.ageKeyFile) and list each SOPS-encrypted file its
workloads read: plain YAML files, kustomize inputs, Helm valuesFiles. A file
that does not decrypt is named with the recipients it is encrypted for. The
same check runs before bootstrap and recover touch anything.`,
		Example: `  SOPS_AGE_KEY_FILE=~/.config/sops/age/keys.txt rekindle secrets check -b . --env prod`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSecretsCheck(cmd.Context(), g, &src)
		},
	}
	src.add(cmd, false)
	return cmd
}

// errSecretsCheck is a check that found files that do not decrypt (exit 1).
var errSecretsCheck = errors.New("secrets check failed")

func runSecretsCheck(ctx context.Context, g *globals, src *sourceFlags) error {
	r, err := src.open(ctx, g)
	if err != nil {
		return err
	}
	env, err := src.environment(r)
	if err != nil {
		return err
	}
	e, _ := r.Blueprint.Environment(env)
	keys, keyErr := bootstrap.LoadKeys(e)
	files, err := r.EncryptedFiles(ctx, env, blueprints.RenderOptions{Keys: keys})
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return usageErrorf("environment %q: %v", env, err)
	}
	failed := 0
	for _, f := range files {
		if f.Err != nil {
			failed++
		}
	}
	if g.output == "json" {
		for _, f := range files {
			ev := map[string]any{"event": "file", "path": f.Path, "clusters": f.Clusters, "decrypts": f.Err == nil}
			if f.Err != nil {
				ev["error"] = f.Err.Error()
			}
			if err := writeJSON(g.streams.Out, ev); err != nil {
				return err
			}
		}
		sum := map[string]any{"event": "summary", "environment": env, "files": len(files), "failed": failed, "recipients": keys.Recipients()}
		if keyErr != nil {
			sum["keyError"] = keyErr.Error()
		}
		if err := writeJSON(g.streams.Out, sum); err != nil {
			return err
		}
	} else {
		if keyErr != nil {
			fmt.Fprintf(g.streams.Err, "age key: %v\n", keyErr)
		}
		fmt.Fprintf(g.streams.Out, "environment %q%s: %d encrypted file(s), %s\n", env, commitNote(r), len(files), keys)
		if len(files) > 0 {
			tw := tabwriter.NewWriter(g.streams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "FILE\tCLUSTERS\tDECRYPTS")
			for _, f := range files {
				status := "yes"
				if f.Err != nil {
					status = "no: " + checkReason(f.Err)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Path, strings.Join(f.Clusters, ","), status)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d encrypted file(s) do not decrypt with %s", errSecretsCheck, failed, len(files), keys)
	}
	return nil
}

func checkReason(err error) string {
	var de *sops.DecryptError
	if errors.As(err, &de) {
		switch {
		case de.Reason != "":
			return de.Reason
		case de.NoKey():
			return "no age key (" + sops.KeyHint + "); encrypted for " + strings.Join(de.Recipients, ", ")
		default:
			return "encrypted for " + strings.Join(de.Recipients, ", ") + ", which the key lacks"
		}
	}
	return err.Error()
}
