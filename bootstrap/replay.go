package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/rekindle-dev/rekindle/bootstrap/agent"
	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// replayPoll is how often the replay step reads the agents' Sync status.
const replayPoll = 500 * time.Millisecond

// replay waits until every cluster's agent has applied the run's commit and
// every object is healthy, reporting progress as it goes.
func (r *run) replay(ctx context.Context, sum *Summary) (string, bool, error) {
	if r.opts.DryRun {
		return "would wait for each agent to apply and heal every workload", false, nil
	}
	var wg sync.WaitGroup
	errs := make([]error, len(sum.Clusters))
	for i := range sum.Clusters {
		wg.Add(1)
		go func(cs *ClusterSummary) {
			defer wg.Done()
			errs[i] = r.waitSynced(ctx, cs)
		}(&sum.Clusters[i])
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return "", false, err
	}
	return fmt.Sprintf("%d object(s) applied and healthy in %d cluster(s)", healthyTotal(sum), len(sum.Clusters)), false, nil
}

// waitSynced polls the cluster's Sync until it is Ready at the run's commit.
func (r *run) waitSynced(ctx context.Context, cs *ClusterSummary) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.ReplayTimeout)
	defer cancel()
	ap, err := r.applier(cs)
	if err != nil {
		return err
	}
	start := time.Now()
	lastReport := time.Time{}
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
				if cs.AppliedAfter == 0 {
					cs.AppliedAfter = cs.HealthyAfter
				}
				return nil
			}
			if time.Since(lastReport) >= 5*time.Second {
				r.info(StepReplay, cs.Name, "%d/%d applied, %d healthy%s", s.Status.Applied, s.Status.Desired, s.Status.Healthy, conditionNote(s))
				lastReport = time.Now()
			}
		case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
			// The agent has not written its first status yet.
		default:
			if time.Since(lastReport) >= 5*time.Second {
				r.info(StepReplay, cs.Name, "reading Sync status: %v (retrying)", err)
				lastReport = time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster %q: %w", cs.Name, notSyncedError(ctx, last, r.repo.Commit))
		case <-time.After(replayPoll):
		}
	}
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

// verify compares every cluster with its render, object by object: each
// rendered object present, its fields managed by Git equal to Git, healthy,
// and each Helm release deployed at the rendered chart version. The agents'
// own counts are not trusted.
func (r *run) verify(ctx context.Context, sum *Summary) (string, bool, error) {
	if r.opts.DryRun {
		return "would check every rendered object is live, matches Git and is healthy", false, nil
	}
	var diffs []string
	objects := 0
	for _, cs := range sum.Clusters {
		rc, err := r.repo.Render(ctx, r.env, cs.Name, r.renderOptions())
		if err != nil {
			return "", false, err
		}
		ap, err := r.applier(&cs)
		if err != nil {
			return "", false, fmt.Errorf("cluster %q: %w", cs.Name, err)
		}
		res, err := ap.Verify(ctx, rc)
		if err != nil {
			return "", false, fmt.Errorf("cluster %q: %w", cs.Name, err)
		}
		objects += res.Desired
		r.info(StepVerify, cs.Name, "%d desired, %d present, %d matching Git, %d healthy (%s)",
			res.Desired, res.Present, res.Matching, res.Healthy, res.Duration.Round(time.Millisecond))
		for _, d := range res.Differences {
			diffs = append(diffs, cs.Name+": "+d.String())
		}
		if len(res.Differences) == 0 && !res.OK() {
			diffs = append(diffs, fmt.Sprintf("%s: %d/%d objects present, matching and healthy", cs.Name, min(res.Present, res.Matching, res.Healthy), res.Desired))
		}
	}
	if len(diffs) > 0 {
		const show = 10
		list := diffs
		if len(list) > show {
			list = append(list[:show:show], fmt.Sprintf("and %d more", len(diffs)-show))
		}
		return "", false, fmt.Errorf("live state differs from Git in %d place(s): %s", len(diffs), strings.Join(list, "; "))
	}
	return fmt.Sprintf("%d object(s) in %d cluster(s) present, matching Git and healthy", objects, len(sum.Clusters)), false, nil
}
