package dag

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder notes the order in which jobs start and end their applies.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) index(e string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, x := range r.events {
		if x == e {
			return i
		}
	}
	return -1
}

func TestRunRunsDependentsAfterTheirDependencies(t *testing.T) {
	rec := &recorder{}
	mk := func(name string, deps ...int) Job {
		return Job{Name: name, Deps: deps,
			Apply: func(context.Context) error { rec.add("apply " + name); return nil },
			Wait:  func(context.Context) error { time.Sleep(5 * time.Millisecond); rec.add("ready " + name); return nil },
		}
	}
	// platform <- db <- app, platform <- cache; cache and db are independent.
	jobs := []Job{mk("platform"), mk("db", 0), mk("cache", 0), mk("app", 1, 2)}
	for i, err := range Run(context.Background(), jobs, 2) {
		if err != nil {
			t.Fatalf("job %s: %v", jobs[i].Name, err)
		}
	}
	for _, c := range [][2]string{
		{"ready platform", "apply db"}, {"ready platform", "apply cache"},
		{"ready db", "apply app"}, {"ready cache", "apply app"},
	} {
		if a, b := rec.index(c[0]), rec.index(c[1]); a < 0 || b < 0 || a > b {
			t.Errorf("%q (at %d) should come before %q (at %d); events: %v", c[0], a, c[1], b, rec.events)
		}
	}
}

func TestRunBoundsAppliesButNotWaits(t *testing.T) {
	const slots, n = 2, 6
	var applying, peak atomic.Int32
	release := make(chan struct{})
	var waiting atomic.Int32
	jobs := make([]Job, n)
	for i := range jobs {
		jobs[i] = Job{Name: string(rune('a' + i)),
			Apply: func(context.Context) error {
				cur := applying.Add(1)
				for {
					p := peak.Load()
					if cur <= p || peak.CompareAndSwap(p, cur) {
						break
					}
				}
				time.Sleep(10 * time.Millisecond)
				applying.Add(-1)
				return nil
			},
			// Every wait blocks until all n jobs are waiting at once: that
			// only happens if a wait holds no slot.
			Wait: func(context.Context) error {
				if waiting.Add(1) == n {
					close(release)
				}
				select {
				case <-release:
					return nil
				case <-time.After(5 * time.Second):
					return errors.New("waits were serialised behind the apply slots")
				}
			},
		}
	}
	for i, err := range Run(context.Background(), jobs, slots) {
		if err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
	}
	if p := peak.Load(); p > slots || p < 1 {
		t.Errorf("peak concurrent applies %d, want 1..%d", p, slots)
	}
}

func TestRunFailsDependentsFastAndRunsTheRest(t *testing.T) {
	boom := errors.New("boom")
	var ran sync.Map
	mk := func(name string, err error, deps ...int) Job {
		return Job{Name: name, Deps: deps, Apply: func(context.Context) error { ran.Store(name, true); return err }}
	}
	jobs := []Job{mk("broken", boom), mk("child", nil, 0), mk("grandchild", nil, 1), mk("independent", nil)}
	start := time.Now()
	errs := Run(context.Background(), jobs, 4)
	if time.Since(start) > time.Second {
		t.Errorf("schedule took %s; a failed dependency should end its dependents at once", time.Since(start))
	}
	if !errors.Is(errs[0], boom) {
		t.Errorf("broken: %v, want boom", errs[0])
	}
	for _, i := range []int{1, 2} {
		var de *DependencyError
		if !errors.As(errs[i], &de) {
			t.Errorf("%s: %v, want a DependencyError", jobs[i].Name, errs[i])
		}
		if _, ok := ran.Load(jobs[i].Name); ok {
			t.Errorf("%s ran although its dependency failed", jobs[i].Name)
		}
	}
	if errs[1].Error() != `dependency "broken" is not ready` || errs[2].Error() != `dependency "child" is not ready` {
		t.Errorf("dependency errors: %q, %q", errs[1], errs[2])
	}
	if errs[3] != nil {
		t.Errorf("independent: %v, want success", errs[3])
	}
}

func TestRunCountsCancelledJobsAsFailed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	var once sync.Once
	// Whichever of the two gets the only slot holds it until the pass is
	// cancelled; the other waits for the slot.
	block := func(ctx context.Context) error { once.Do(func() { close(started) }); <-ctx.Done(); return ctx.Err() }
	jobs := []Job{
		{Name: "slow", Apply: block},
		{Name: "queued", Apply: block},
		{Name: "dependent", Deps: []int{0}}, // waits for slow
	}
	go func() { <-started; cancel() }()
	errs := Run(ctx, jobs, 1)
	for i, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v, want it failed with context.Canceled", jobs[i].Name, err)
		}
	}
}

func TestRunNoJobs(t *testing.T) {
	if errs := Run(context.Background(), nil, 0); len(errs) != 0 {
		t.Fatalf("got %v", errs)
	}
}
