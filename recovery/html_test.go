package recovery

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/rekindle-dev/rekindle/bootstrap"
	"github.com/rekindle-dev/rekindle/bootstrap/agent"
)

// TestRecoveryLanesFromEvents: two clusters created concurrently get
// overlapping spans of their own; a step that names no cluster is shared;
// replay splits at each cluster's own AppliedAfter and HealthyAfter.
func TestRecoveryLanesFromEvents(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	ev := func(s float64, step, status, cluster string, took time.Duration) bootstrap.Event {
		return bootstrap.Event{Time: at(s), Step: step, Status: status, Cluster: cluster, Duration: took}
	}
	events := []bootstrap.Event{
		ev(0.1, bootstrap.StepDetect, bootstrap.StatusStarted, "", 0),
		ev(0.3, bootstrap.StepDetect, bootstrap.StatusDone, "", 0),
		ev(0.5, bootstrap.StepClusters, bootstrap.StatusStarted, "", 0),
		ev(0.6, bootstrap.StepClusters, bootstrap.StatusInfo, "a", 0),
		ev(0.7, bootstrap.StepClusters, bootstrap.StatusInfo, "b", 0),
		ev(3.0, bootstrap.StepClusters, bootstrap.StatusInfo, "b", time.Second),
		ev(4.0, bootstrap.StepClusters, bootstrap.StatusInfo, "a", 2*time.Second),
		ev(4.1, bootstrap.StepClusters, bootstrap.StatusDone, "", 0),
		ev(4.2, bootstrap.StepAgent, bootstrap.StatusStarted, "", 0),
		ev(5.2, bootstrap.StepAgent, bootstrap.StatusDone, "", 0),
		ev(5.2, bootstrap.StepReplay, bootstrap.StatusStarted, "", 0),
		ev(9.2, bootstrap.StepReplay, bootstrap.StatusDone, "", 0),
	}
	sum := &bootstrap.Summary{Clusters: []bootstrap.ClusterSummary{
		{Name: "a", AppliedAfter: time.Second, HealthyAfter: 4 * time.Second},
		{Name: "b", AppliedAfter: 2 * time.Second, HealthyAfter: 3 * time.Second},
	}}
	lanes := recoveryLanes(t0, events, sum, []string{"a", "b"})
	if len(lanes) != 2 || lanes[0].Name != "a" || lanes[1].Name != "b" || !lanes[0].Lost {
		t.Fatalf("lanes: %+v", lanes)
	}
	spans := func(l Lane) map[string]Span {
		m := map[string]Span{}
		for _, s := range l.Spans {
			m[s.Phase] = s
		}
		return m
	}
	a, b := spans(lanes[0]), spans(lanes[1])
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	for _, c := range []struct {
		name        string
		got         Span
		start, dur  int64
		shared      bool
		wantPresent bool
	}{
		{"a detect", a[PhaseDetect], 100, 200, true, true},
		{"a cluster", a[PhaseCluster], 600, 3400, false, true},
		{"b cluster", b[PhaseCluster], 700, 2300, false, true},
		{"b agent", b[PhaseAgent], 4200, 1000, true, true},
		{"a replay", a[PhaseReplay], 5200, 1000, false, true},
		{"a healthy", a[PhaseHealthy], 6200, 3000, false, true},
		{"b healthy", b[PhaseHealthy], 7200, 1000, false, true},
	} {
		if ms(c.got.Start) != c.start || ms(c.got.Duration) != c.dur || c.got.Shared != c.shared {
			t.Errorf("%s: start %dms duration %dms shared %t, want %d, %d, %t", c.name, ms(c.got.Start), ms(c.got.Duration), c.got.Shared, c.start, c.dur, c.shared)
		}
	}
	if _, ok := a[PhaseInfra]; ok {
		t.Error("a step that did not run has a span")
	}
}

// TestHTMLReportEscapesAndShowsEverything renders a hand-made failed drill
// whose texts hold markup: every lane, span, trend point and object is in
// the page, and no text became markup.
func TestHTMLReportEscapesAndShowsEverything(t *testing.T) {
	evil := `<script>alert("x")</script>`
	rep := &DrillReport{
		Blueprint: "bp", Env: "dev" + evil, Started: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Duration: 40 * time.Second,
		Lost: []string{"apps"}, Failure: "recover: " + evil,
		Phases:   []Phase{{Name: DrillUp, Duration: 20 * time.Second, Status: "done"}, {Name: DrillRecover, Start: 20 * time.Second, Duration: 9 * time.Second, Status: "failed", Detail: evil}},
		Recovery: &RTO{Total: 9 * time.Second, Objective: 5 * time.Second, Phases: []Phase{{Name: PhaseCluster, Duration: 4 * time.Second, Status: "done"}, {Name: PhaseReplay, Duration: 5 * time.Second, Status: "done"}}},
		Trend:    []HistoryEntry{{Time: time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC), RTO: 7 * time.Second, Passed: true}, {Time: time.Date(2026, 2, 8, 10, 0, 0, 0, time.UTC), RTO: 8 * time.Second}},
		Timeline: &Timeline{Recovery: []Lane{
			{Name: "apps", Lost: true, Spans: []Span{{Phase: PhaseCluster, Duration: 4 * time.Second}, {Phase: PhaseReplay, Start: 4 * time.Second, Duration: 5 * time.Second}}},
			{Name: "edge" + evil, Spans: []Span{{Phase: PhaseReplay, Start: 4 * time.Second, Duration: 2 * time.Second, Shared: true}}},
		}},
		Verify: &VerifyReport{
			Clusters: []agent.VerifyResult{{Cluster: "apps", Desired: 2, Present: 2, Matching: 1, Healthy: 2}},
			Objects: []ObjectResult{
				{Cluster: "apps", Workload: "w", Object: "ConfigMap/ns/ok", OK: true},
				{Cluster: "apps", Workload: "w", Object: "ConfigMap/ns/" + evil, Differences: []string{"field data.x differs " + evil}, Fields: []string{"data.x"}},
			},
		},
	}
	rep.Timeline.Drill = drillLane(rep.Phases)
	page, err := rep.HTML()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("parse the page: %v", err)
	}
	d := newDOM(doc)
	if n := d.count("script", nil); n != 0 {
		t.Errorf("%d <script> elements: text was not escaped", n)
	}
	if !strings.Contains(d.text, evil) {
		t.Error("the escaped texts are not shown as text")
	}
	lanes := d.attrs("g", "data-lane")
	if strings.Join(lanes, ",") != "drill,apps,edge"+evil {
		t.Errorf("lanes %q", lanes)
	}
	if got := d.attrs("g", "data-phase"); strings.Join(got, ",") != "up,recover,cluster,replay,replay" {
		t.Errorf("spans %q", got)
	}
	if got := d.attrs("circle", "data-rto-seconds"); strings.Join(got, ",") != "7.000,8.000,9.000" {
		t.Errorf("trend points %q, want the two earlier drills and this one", got)
	}
	if got := d.attrs("span", "data-rto-seconds"); len(got) != 1 || got[0] != "9.000" {
		t.Errorf("RTO %q", got)
	}
	if got := d.attrs("tr", "data-ok"); strings.Join(got, ",") != "true,false" {
		t.Errorf("objects %q", got)
	}
	if d.count("li", map[string]string{"class": "difference"}) != 1 {
		t.Error("the difference is not listed")
	}
}

// dom is a parsed page, flattened for checks.
type dom struct {
	nodes []*html.Node
	text  string
}

func newDOM(root *html.Node) *dom {
	d := &dom{}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			d.nodes = append(d.nodes, n)
		}
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	d.text = b.String()
	return d
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// attrs lists the values of key on the elements named tag, in page order.
func (d *dom) attrs(tag, key string) []string {
	var out []string
	for _, n := range d.nodes {
		if v, ok := attr(n, key); ok && n.Data == tag {
			out = append(out, v)
		}
	}
	return out
}

// count counts the elements named tag whose attributes include want.
func (d *dom) count(tag string, want map[string]string) int {
	n := 0
	for _, e := range d.nodes {
		ok := e.Data == tag
		for k, v := range want {
			got, has := attr(e, k)
			ok = ok && has && got == v
		}
		if ok {
			n++
		}
	}
	return n
}
