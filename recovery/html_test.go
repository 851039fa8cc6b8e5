package recovery

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/rekindle-dev/rekindle/bootstrap/agent"
)

// TestRecoveryLanes: each cluster's lane is the shared steps then its own
// phases, in time order, as the RTO's lanes hold them; a lost cluster
// without a lane of its own still gets one.
func TestRecoveryLanes(t *testing.T) {
	s := func(sec float64) time.Duration { return time.Duration(sec * float64(time.Second)) }
	r := &RTO{
		Total: s(9.5), Critical: "a",
		Phases: []Phase{
			{Name: PhaseDetect, Start: s(0.1), Duration: s(0.2)},
			{Name: PhaseInfra, Start: s(0.3), Duration: s(0.5)},
			{Name: PhaseCluster, Start: s(0.8), Duration: s(4)}, // the critical lane's, not shared
			{Name: PhaseReport, Start: s(9.2), Duration: s(0.1)},
			{Name: PhaseOther, Duration: s(0.2)},
		},
		Lanes: []Lane{
			{Cluster: "a", Phases: []Phase{{Name: PhaseCluster, Start: s(0.8), Duration: s(4)}, {Name: PhaseReplay, Start: s(4.8), Duration: s(4)}}},
			{Cluster: "b", Error: "replay: refused", Phases: []Phase{{Name: PhaseWait, Start: s(0.8), Duration: s(1)}, {Name: PhaseCluster, Start: s(1.8), Duration: s(2)}}},
		},
	}
	lanes := recoveryLanes(r, []string{"a", "gone"})
	var got []string
	for _, l := range lanes {
		line := fmt.Sprintf("%s lost=%t critical=%t err=%q:", l.Name, l.Lost, l.Critical, l.Error)
		for _, sp := range l.Spans {
			line += fmt.Sprintf(" %s@%.1f+%.1f", sp.Phase, sp.Start.Seconds(), sp.Duration.Seconds())
			if sp.Shared {
				line += "*"
			}
		}
		got = append(got, line)
	}
	want := []string{
		`a lost=true critical=true err="": detect@0.1+0.2* infra@0.3+0.5* cluster@0.8+4.0 replay@4.8+4.0 report@9.2+0.1*`,
		`b lost=false critical=false err="replay: refused": detect@0.1+0.2* infra@0.3+0.5* wait@0.8+1.0 cluster@1.8+2.0 report@9.2+0.1*`,
		`gone lost=true critical=false err="": detect@0.1+0.2* infra@0.3+0.5* report@9.2+0.1*`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lanes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if l := recoveryLanes(nil, []string{"x"}); len(l) != 1 || !l[0].Lost || len(l[0].Spans) != 0 {
		t.Errorf("no recovery: %+v", l)
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
		Timeline: &Timeline{Recovery: []TimelineLane{
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
