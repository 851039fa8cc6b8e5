package app

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// profiling is what --profile and --profile-output (named and behaving as
// kubectl's) ask for: a Go runtime profile of this rekindle process, for
// `go tool pprof`. It never holds secret values: it records code, not data.
type profiling struct {
	name   string
	output string
}

// profileNames are the profiles --profile accepts.
var profileNames = []string{"none", "cpu", "heap", "goroutine", "threadcreate", "block", "mutex"}

// start begins the profile; the returned stop writes it (the CPU profile
// runs from start to stop, the others are a snapshot taken at stop).
func (p profiling) start() (stop func() error, err error) {
	switch p.name {
	case "none", "":
		return func() error { return nil }, nil
	case "cpu":
		f, err := os.Create(p.output)
		if err != nil {
			return nil, usageErrorf("--profile-output: %v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("start the CPU profile: %w", err)
		}
		return func() error {
			pprof.StopCPUProfile()
			return f.Close()
		}, nil
	}
	prof := pprof.Lookup(p.name)
	if prof == nil {
		return nil, usageErrorf("--profile must be one of %v, got %q", profileNames, p.name)
	}
	switch p.name {
	case "block":
		runtime.SetBlockProfileRate(1)
	case "mutex":
		runtime.SetMutexProfileFraction(1)
	}
	return func() error {
		f, err := os.Create(p.output)
		if err != nil {
			return fmt.Errorf("--profile-output: %w", err)
		}
		if p.name == "heap" {
			runtime.GC()
		}
		if err := prof.WriteTo(f, 0); err != nil {
			_ = f.Close()
			return fmt.Errorf("write the %s profile: %w", p.name, err)
		}
		return f.Close()
	}, nil
}
