package bootstrap

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/rekindle-dev/rekindle/bootstrap/agent"
	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// replayPoll is how often the replay step reads the agents' Sync status.
const replayPoll = 200 * time.Millisecond

// waitSynced polls the cluster's Sync until it is Ready at the run's commit.
func (r *run) waitSynced(ctx context.Context, cs *ClusterSummary) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.ReplayTimeout)
	defer cancel()
	ap, err := r.applier(cs)
	if err != nil {
		return err
	}
	start := time.Now()
	// A host agent that was running and exits leaves nobody to write the
	// Sync: say so instead of waiting out the replay timeout.
	ha := newHostAgent(r.paths.agents, cs.Name)
	_, hostAgent := ha.pid()
	lastReport, lastLine := time.Time{}, ""
	var blockedSince time.Time
	var last *agent.Sync
	for {
		s, err := ap.GetSync(ctx, cs.Name)
		switch {
		case err == nil:
			last = s
			cs.Desired, cs.Applied, cs.Healthy, cs.Commit = s.Status.Desired, s.Status.Applied, s.Status.Healthy, s.Status.LastAppliedCommit
			ready := s.Condition(agent.ConditionReady)
			atCommit := r.repo.Commit == "" || s.Status.LastAttemptedCommit == r.repo.Commit || s.Status.LastAppliedCommit == r.repo.Commit
			if cs.AppliedAfter == 0 && atCommit && s.Status.Desired > 0 && s.Status.Applied == s.Status.Desired {
				cs.AppliedAfter = time.Since(start)
			}
			atCommit = r.repo.Commit == "" || s.Status.LastAppliedCommit == r.repo.Commit
			// The source may move on during a run (a push to the branch the
			// agent follows): a pass finished since the replay began counts,
			// whatever its commit; verify then compares with the run's commit.
			newer := !atCommit && s.Status.LastSyncTime != nil && s.Status.LastSyncTime.Time.After(start)
			if ready != nil && ready.Status == "True" && (atCommit || newer) && s.Status.Healthy == s.Status.Desired {
				if newer {
					r.info(StepReplay, cs.Name, "the agent applied commit %.12s, not this run's %.12s: the source moved on during the run", s.Status.LastAppliedCommit, r.repo.Commit)
				}
				cs.Ready = true
				cs.Message = ready.Message
				cs.HealthyAfter = time.Since(start)
				cs.Restores = restoreSpans(s.Status.Restores, r.started)
				if cs.AppliedAfter == 0 {
					cs.AppliedAfter = cs.HealthyAfter
				}
				return nil
			}
			// A pass at this run's commit that the API server refused for
			// good: the agent keeps retrying, but waiting cannot fix the
			// render. One more pass (the agent retries within seconds)
			// rules out a race with a CRD or Namespace being created.
			if st := s.Condition(agent.ConditionStalled); st != nil && st.Status == "True" && st.Reason == agent.ReasonBlocked &&
				(r.repo.Commit == "" || s.Status.LastAttemptedCommit == r.repo.Commit) {
				if blockedSince.IsZero() {
					blockedSince = time.Now()
				} else if time.Since(blockedSince) >= blockedGrace {
					return fmt.Errorf("cluster %q: the agent cannot apply this commit: %w", cs.Name, blockedError(s))
				}
			} else {
				blockedSince = time.Time{}
			}
			// Progress when it changes, not on every poll.
			line := fmt.Sprintf("%d/%d applied, %d healthy%s", s.Status.Applied, s.Status.Desired, s.Status.Healthy, conditionNote(s))
			if line != lastLine {
				r.info(StepReplay, cs.Name, "%s", line)
				lastLine = line
			}
		case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
			// The agent has not written its first status yet.
		default:
			if time.Since(lastReport) >= 30*time.Second {
				r.info(StepReplay, cs.Name, "reading Sync status: %v (retrying)", err)
				lastReport = time.Now()
			}
		}
		if hostAgent {
			if _, running := ha.pid(); !running {
				return &agentExitedError{cluster: cs.Name, log: ha.logFile, tail: logTail(ha.logFile, 5)}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster %q: %w", cs.Name, notSyncedError(ctx, last, r.repo.Commit))
		case <-time.After(replayPoll):
		}
	}
}

// agentExitedError is a host agent that exited while the run waited for
// its Sync. It is never transient, whatever its log's last lines say (a
// "connection refused" there must not make the step wait again for an
// agent nobody restarts): a re-run starts the agent again.
type agentExitedError struct{ cluster, log, tail string }

func (e *agentExitedError) Error() string {
	return fmt.Sprintf("cluster %q: the host agent exited during the replay (a re-run starts it again); the end of its log (%s):\n%s", e.cluster, e.log, e.tail)
}

// logTail is the last n non-empty lines of a log file, indented.
func logTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "  (" + err.Error() + ")"
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, "  "+l)
		}
	}
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// restoreSpans are the Sync's restores that ran during this run (started
// after it began): a re-run on a live cluster finds only older ones.
func restoreSpans(rs []agent.RestoreStatus, since time.Time) []RestoreSpan {
	var out []RestoreSpan
	for _, x := range rs {
		if x.Started.Time.Before(since) || x.Finished.Time.Before(x.Started.Time) {
			continue
		}
		out = append(out, RestoreSpan{Workload: x.Workload, Backup: x.Backup, Items: x.Items, Skipped: x.Skipped,
			Start: x.Started.Time, End: x.Finished.Time})
	}
	return out
}

func (r *run) applier(cs *ClusterSummary) (*agent.Applier, error) {
	cfg, err := cluster.RESTConfig(cs.Kubeconfig, "")
	if err != nil {
		return nil, err
	}
	return agent.NewApplier(cfg, agent.ApplyOptions{})
}

func conditionNote(s *agent.Sync) string {
	for _, t := range []string{agent.ConditionStalled, agent.ConditionReconciling} {
		if c := s.Condition(t); c != nil && c.Status == "True" {
			return fmt.Sprintf(" (%s: %s)", t, c.Message)
		}
	}
	return ""
}

// blockedGrace is how long a Blocked pass at the run's commit is waited out
// before the run stops: long enough for the agent's next retry.
const blockedGrace = 3 * time.Second

// blockedError names the objects the cluster refused and why.
func blockedError(s *agent.Sync) error {
	var why []string
	for _, f := range s.Status.Failed {
		if f.Permanent {
			why = append(why, f.String())
		}
	}
	if len(why) == 0 {
		for _, f := range s.Status.Failed {
			why = append(why, f.String())
		}
	}
	return fmt.Errorf("%d object(s) refused:\n  %s", len(why), strings.Join(why, "\n  "))
}

// notSyncedError explains what was still missing when the wait ended.
func notSyncedError(ctx context.Context, s *agent.Sync, commit string) error {
	if s == nil {
		return fmt.Errorf("the agent wrote no Sync status (see its log under the state dir's agents/): %w", context.Cause(ctx))
	}
	var why []string
	if commit != "" && s.Status.LastAppliedCommit != commit {
		why = append(why, fmt.Sprintf("applied commit is %.12q, want %.12s", s.Status.LastAppliedCommit, commit))
	}
	why = append(why, fmt.Sprintf("%d/%d healthy", s.Status.Healthy, s.Status.Desired))
	if note := conditionNote(s); note != "" {
		why = append(why, strings.TrimSpace(note))
	}
	for i, f := range s.Status.Failed {
		if i == 5 {
			why = append(why, fmt.Sprintf("and %d more", len(s.Status.Failed)-5))
			break
		}
		why = append(why, fmt.Sprintf("%s: %s", f.Object, f.Reason))
	}
	return fmt.Errorf("replay did not finish: %s: %w", strings.Join(why, "; "), context.Cause(ctx))
}
