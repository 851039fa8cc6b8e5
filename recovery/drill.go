package recovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/rekindle-dev/rekindle/bootstrap"
)

// Drill phases, in order.
const (
	DrillUp       = "up"
	DrillBaseline = "baseline"
	DrillLose     = "lose"
	DrillRecover  = "recover"
	DrillVerify   = "verify"
	DrillTeardown = "teardown"
)

// DrillOptions configure a disaster-recovery drill.
type DrillOptions struct {
	bootstrap.Options
	// Clusters to destroy; empty means every cluster of the environment.
	Clusters []string
	// Objective overrides the environment's recovery.rto (0: keep it).
	Objective time.Duration
	// Keep leaves the environment running after the drill.
	Keep bool
	// ReportDir receives drill.json, junit.xml, drill.md and drill.html;
	// empty: none.
	ReportDir string
	// StepSummary, when set (from $GITHUB_STEP_SUMMARY), gets the Markdown
	// report appended.
	StepSummary string
	// MetricsFile receives the drill's metrics in the Prometheus text
	// format (for node_exporter's textfile collector); empty: none.
	MetricsFile string
	// Pushgateway receives the same metrics; empty URL: none.
	Pushgateway PushOptions
	// Notify posts a summary of the drill to a webhook; empty URL: none.
	Notify NotifyOptions
	// Warn receives what does not fail the drill: a push or notification
	// that did not get through. nil discards it.
	Warn io.Writer
	// Backup takes a fresh backup through each restore workload's schedule
	// before the loss, and waits for it (drill --backup; see Backup).
	Backup bool
	// HistoryFile gets one JSON line per drill; empty:
	// <StateDir>/envs/<blueprint>/<env>/drills.jsonl.
	HistoryFile string
}

// DrillReport is everything a drill measured.
type DrillReport struct {
	Blueprint string        `json:"blueprint"`
	Env       string        `json:"env"`
	Commit    string        `json:"commit,omitempty"`
	Started   time.Time     `json:"started"`
	Duration  time.Duration `json:"duration"`
	Lost      []string      `json:"lost"`
	Phases    []Phase       `json:"phases"`
	// Recovery is the timed recovery, with its RTO against the objective.
	Recovery *RTO `json:"recovery,omitempty"`
	// Clusters are the clusters after recovery, with object counts.
	Clusters    []bootstrap.ClusterSummary `json:"clusters,omitempty"`
	Differences []string                   `json:"differences,omitempty"`
	Passed      bool                       `json:"passed"`
	Failure     string                     `json:"failure,omitempty"`
	// Trend holds the RTO of earlier drills of this environment, oldest first.
	Trend []HistoryEntry `json:"trend,omitempty"`
	// Timeline is the drill's phases and the recovery's, one lane per cluster.
	Timeline *Timeline `json:"timeline,omitempty"`
	// Verify is the last comparison with Git (after recovery, or the
	// baseline's when that failed), object by object.
	Verify *VerifyReport `json:"verify,omitempty"`
}

// ErrDrillFailed marks a drill that ran but did not pass.
var ErrDrillFailed = errors.New("drill failed")

// Drill brings the environment up if needed, checks the baseline, destroys
// clusters, recovers them with the RTO measured, verifies, and tears down
// unless Keep (teardown runs even when the drill fails). Reports are written
// whatever the outcome.
func Drill(ctx context.Context, opts DrillOptions) (rep *DrillReport, err error) {
	rep = &DrillReport{Started: time.Now().UTC(), Timeline: &Timeline{}}
	defer func() {
		if !opts.Keep {
			rep.phase(DrillTeardown, func() (string, error) {
				sum, err := bootstrap.Destroy(context.WithoutCancel(ctx), opts.Options)
				if err != nil {
					return "", err
				}
				return fmt.Sprintf("environment destroyed in %s", sum.Total.Round(time.Millisecond)), nil
			})
		}
		rep.Duration = time.Since(rep.Started)
		if err == nil && !rep.Passed {
			err = fmt.Errorf("%w: %s", ErrDrillFailed, rep.Failure)
		}
		if werr := rep.save(opts); werr != nil {
			err = errors.Join(err, werr)
		}
		rep.publish(context.WithoutCancel(ctx), opts)
	}()
	var up *bootstrap.Summary
	if err := rep.phase(DrillUp, func() (string, error) {
		sum, err := bootstrap.Create(ctx, opts.Options)
		up = sum
		if err != nil {
			return "", err
		}
		rep.Blueprint, rep.Env, rep.Commit = sum.Blueprint, sum.Env, sum.Commit
		if opts.HistoryFile == "" && opts.StateDir != "" {
			opts.HistoryFile = filepath.Join(opts.StateDir, "envs", sum.Blueprint, sum.Env, "drills.jsonl")
		}
		return fmt.Sprintf("%d cluster(s) up in %s", len(sum.Clusters), sum.Total.Round(time.Millisecond)), nil
	}); err != nil {
		return rep, rep.fail(err)
	}
	if err := rep.phase(DrillBaseline, func() (string, error) {
		return rep.check(ctx, opts.Options, up, false)
	}); err != nil {
		return rep, rep.fail(err)
	}
	if opts.Backup {
		if err := rep.phase(DrillBackup, func() (string, error) {
			return Backup(ctx, opts.Options, up, opts.Clusters)
		}); err != nil {
			return rep, rep.fail(err)
		}
	}
	if err := rep.phase(DrillLose, func() (string, error) {
		lost, err := Lose(ctx, opts.Options, opts.Clusters)
		rep.Lost = lost
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("destroyed %v", lost), nil
	}); err != nil {
		return rep, rep.fail(err)
	}
	var res *Result
	recErr := rep.phase(DrillRecover, func() (string, error) {
		var err error
		res, err = Recover(ctx, opts.Options)
		defer func() { rep.Timeline.Recovery = recoveryLanes(rep.Recovery, rep.Lost) }()
		if res != nil && res.RTO != nil {
			if opts.Objective > 0 {
				res.RTO.Objective = opts.Objective
				res.RTO.Met = res.RTO.Total <= opts.Objective
			}
			rep.Recovery = res.RTO
		}
		if res != nil && res.Summary != nil {
			rep.Clusters = res.Summary.Clusters
		}
		if err != nil && !errors.Is(err, ErrObjectiveMissed) {
			return "", err
		}
		return fmt.Sprintf("recovered in %s", res.RTO.Total.Round(time.Millisecond)), nil
	})
	if recErr != nil {
		return rep, rep.fail(recErr)
	}
	if err := rep.phase(DrillVerify, func() (string, error) {
		return rep.check(ctx, opts.Options, res.Summary, true)
	}); err != nil {
		return rep, rep.fail(err)
	}
	if !rep.Recovery.Met {
		return rep, rep.fail(fmt.Errorf("%w: %s", ErrObjectiveMissed, rep.Recovery.Overage()))
	}
	rep.Passed = true
	return rep, nil
}

// check compares every cluster of the environment with the render at the
// run's commit, object by object (see Verify), and keeps the comparison; the
// agents' own counts are not trusted. Differences come back as a *DiffError.
// After the recovery (restored), what restore workloads brought back is also
// compared with their backups; the baseline's state may rightly have moved
// on from the last backup, so it is not.
func (drill *DrillReport) check(ctx context.Context, opts bootstrap.Options, sum *bootstrap.Summary, restored bool) (string, error) {
	opts.Events = nil // the drill reports its own phases
	commit := ""
	if sum != nil {
		commit = sum.Commit
	}
	rep, err := Verify(ctx, opts, VerifyOptions{Commit: commit, AgainstBackup: restored})
	if err != nil {
		return "", err
	}
	drill.Verify = rep
	if err := rep.Err(); err != nil {
		return "", err
	}
	objects := 0
	for _, c := range rep.Clusters {
		objects += c.Desired
	}
	return fmt.Sprintf("%d object(s) in %d cluster(s) present, matching Git and healthy (verified in %s)", objects, len(rep.Clusters), rep.Duration.Round(time.Millisecond)), nil
}

// DiffError lists how live state differs from Git.
type DiffError struct{ Differences []string }

func (e *DiffError) Error() string {
	return fmt.Sprintf("live state differs from Git: %v", e.Differences)
}

func (rep *DrillReport) phase(name string, fn func() (string, error)) error {
	start := time.Now()
	detail, err := fn()
	ph := Phase{Name: name, Start: start.Sub(rep.Started), Duration: time.Since(start), Status: bootstrap.StatusDone, Detail: detail}
	if err != nil {
		ph.Status, ph.Detail = bootstrap.StatusFailed, err.Error()
	}
	rep.Phases = append(rep.Phases, ph)
	rep.Timeline.Drill = drillLane(rep.Phases)
	return err
}

func (rep *DrillReport) fail(err error) error {
	rep.Failure = err.Error()
	var de *DiffError
	if errors.As(err, &de) {
		rep.Differences = de.Differences
	}
	return nil
}
