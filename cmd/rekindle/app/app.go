package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// Streams are the command's standard streams: results go to Out, progress
// and errors to Err.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// Exit codes.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
)

// Main runs rekindle with the process's arguments and returns the exit code.
func Main() int {
	// controller-runtime complains on stderr unless a logger is set; rekindle
	// reports through its own progress and errors.
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Args[1:])
}

// globals are the flags every command takes.
type globals struct {
	streams   Streams
	output    string
	verbosity int
	quiet     bool
	timeout   time.Duration
	stateDir  string
	profile   profiling
}

// Run executes one rekindle command line and returns its exit code.
func Run(ctx context.Context, streams Streams, args []string) int {
	g := &globals{streams: streams}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.Err)
	var cancel context.CancelFunc = func() {}
	stopProfile := func() error { return nil }
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		switch g.output {
		case "text", "json":
		default:
			return usageErrorf("--output must be text or json, got %q", g.output)
		}
		if g.timeout > 0 {
			var c context.Context
			c, cancel = context.WithTimeout(cmd.Context(), g.timeout)
			cmd.SetContext(c)
		}
		stop, err := g.profile.start()
		if err != nil {
			return err
		}
		stopProfile = stop
		return nil
	}
	err := root.ExecuteContext(ctx)
	cancel()
	if perr := stopProfile(); perr != nil && err == nil {
		err = perr
	}
	if err == nil {
		return ExitOK
	}
	return reportError(streams.Err, g.output, err)
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "rekindle",
		Short: "Rebuild Kubernetes environments end to end from one Git blueprint repo",
		Long: `rekindle rebuilds Kubernetes environments from a blueprint repo: it provisions
infrastructure (Terraform), creates clusters (kwok, kind, Cluster API or an
existing one), installs a sync agent and replays every workload, then verifies
the live state against Git and reports how long it took.

Exit codes: 0 success, 1 the operation failed or verification found
differences, 2 bad usage or bad input.`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf("%v", err) })
	f := root.PersistentFlags()
	f.StringVarP(&g.output, "output", "o", "text", "output format: text, or json (one JSON object per line)")
	f.IntVarP(&g.verbosity, "verbosity", "v", 0, "log verbosity (0-9); tools' own output is shown from 4")
	f.BoolVarP(&g.quiet, "quiet", "q", false, "print only results and errors")
	f.DurationVar(&g.timeout, "timeout", 0, "give up after this long (0: no limit), e.g. 30m")
	stateDir, err := cluster.DefaultStateDir()
	if err != nil {
		stateDir = filepath.Join(os.TempDir(), "rekindle-state")
	}
	f.StringVar(&g.stateDir, "state-dir", stateDir, "where rekindle keeps state: checkpoints, clusters, Terraform state, Git cache")
	f.StringVar(&g.profile.name, "profile", "none", "Go runtime profile of rekindle itself to write, as kubectl's: none, cpu, heap, goroutine, threadcreate, block or mutex")
	f.StringVar(&g.profile.output, "profile-output", "profile.pprof", "file the --profile is written to (read it with `go tool pprof`)")
	root.AddCommand(
		newVersionCmd(g),
		newBlueprintCmd(g),
		newBootstrapCmd(g),
		newClusterCmd(g),
		newRecoverCmd(g),
		newVerifyCmd(g),
		newDrillCmd(g),
		newStatusCmd(g),
		newRehearseCmd(g),
		newSecretsCmd(g),
		newAgentCmd(g),
	)
	return asGroup(root)
}

// asGroup makes a command that only holds subcommands print its help when
// called alone and refuse an unknown subcommand (exit 2).
func asGroup(cmd *cobra.Command) *cobra.Command {
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErrorf("unknown command %q for %q", args[0], c.CommandPath())
		}
		return nil
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	return cmd
}

// usageError marks bad usage or bad input: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode classifies an error: bad input is 2, everything else 1.
func exitCode(err error) int {
	var ue *usageError
	var ie *blueprints.InvalidError
	if errors.As(err, &ue) || errors.As(err, &ie) {
		return ExitUsage
	}
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return ExitFailed
}

// reportError prints "ERROR: <first line>" and the detail that follows it.
func reportError(w io.Writer, output string, err error) int {
	code := exitCode(err)
	msg := err.Error()
	if errors.Is(err, context.DeadlineExceeded) {
		msg += " (the --timeout ran out)"
	}
	if errors.Is(err, context.Canceled) {
		msg += " (interrupted)"
	}
	if output == "json" {
		writeJSON(w, map[string]any{"event": "error", "exitCode": code, "error": msg})
		return code
	}
	first, rest, _ := strings.Cut(msg, "\n")
	fmt.Fprintf(w, "ERROR: %s\n", first)
	if rest != "" {
		fmt.Fprintln(w, rest)
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(w, "Run 'rekindle --help' or 'rekindle COMMAND --help' for usage.")
	}
	return code
}
