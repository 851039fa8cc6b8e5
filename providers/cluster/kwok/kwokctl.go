package kwok

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// kwokctl runs one kwokctl command for the cluster name, with KWOK_WORKDIR
// set to the cluster's own directory. Its output goes to Options.Log and to
// <cluster dir>/kwokctl.log; on failure the error carries its last lines.
func (p *provider) kwokctl(ctx context.Context, b bins, kubectl, name string, ps paths, args ...string) error {
	if err := os.MkdirAll(ps.dir, 0o700); err != nil {
		return err
	}
	logFile, err := os.OpenFile(ps.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "--- %s kwokctl --name %s %s\n", time.Now().Format(time.RFC3339), name, strings.Join(args, " "))

	t := newTail(30)
	cmd := exec.CommandContext(ctx, b.kwokctl, append([]string{"--name", name}, args...)...)
	cmd.Env = kwokctlEnv(ps.workdir, b.dir, kubectl)
	cmd.Dir = ps.dir
	out := io.MultiWriter(logFile, p.opts.Log, t)
	cmd.Stdout, cmd.Stderr = out, out
	// The components kwokctl forks write to their own log files; should one
	// still hold our pipe, do not wait for it forever.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = errors.Join(ctx.Err(), err)
		}
		return fmt.Errorf("kwokctl %s: %w; its last lines (all in %s):\n%s", strings.Join(args[:2], " "), err, ps.log, t)
	}
	return nil
}

// kwokctlEnv is the environment for kwokctl: the caller's, without any KWOK_
// setting that could change what it does, plus its work directory, and the
// bin dir first on PATH. kubectl (which kwokctl calls to see whether the API
// server answers) is named explicitly so that kwokctl never downloads one.
func kwokctlEnv(workdir, binDir, kubectl string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "KWOK_") || strings.HasPrefix(kv, "PATH=") {
			continue
		}
		env = append(env, kv)
	}
	path := binDir
	if kubectl != "" {
		path += string(os.PathListSeparator) + filepath.Dir(kubectl)
	}
	if old := os.Getenv("PATH"); old != "" {
		path += string(os.PathListSeparator) + old
	}
	env = append(env,
		"PATH="+path,
		"KWOK_WORKDIR="+workdir,
		"KWOK_KUBECTL_BINARY="+kubectl,
		"KWOK_QUIET_PULL=true",
	)
	return env
}

// findKubectl returns kubectl from the bin dir, else from PATH. kwokctl needs
// it, and would otherwise download one.
func findKubectl(binDir string) (string, error) {
	if p := filepath.Join(binDir, "kubectl"); isExecutable(p) {
		return p, nil
	}
	p, err := exec.LookPath("kubectl")
	if err != nil {
		return "", fmt.Errorf("kwokctl needs kubectl (it asks the API server whether it is up with it): put kubectl on PATH or in %s", binDir)
	}
	return filepath.Abs(p)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
