package recovery

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"strings"
	"time"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// reportTemplates holds the HTML report and the trend chart (shared with
// the Markdown report). html/template escapes every value it is given.
var reportTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"dur": fmtDur,
}).ParseFS(templateFS, "templates/*.tmpl"))

// htmlView is everything the HTML report shows, computed up front.
type htmlView struct {
	Rep      *DrillReport
	Verdict  string
	Started  string
	Duration string
	RTO      *rtoView
	Drill    timelineChart
	Recovery *timelineChart
	Phases   []phaseShare
	Trend    *trendChart
	Verify   *verifyView
}

type rtoView struct {
	Total, Objective string // seconds, for machines
	TotalText        string
	ObjectiveText    string
	Met              bool
	Verdict          string
	// BarW and ObjX place the RTO bar and the objective's mark on a
	// 0..gaugeWidth scale.
	BarW, ObjX float64
}

type phaseShare struct {
	Name, Status, Duration, Seconds string
	Share                           float64 // percent of the RTO
	W                               float64 // bar width on 0..200
}

type verifyView struct {
	Clusters []verifyClusterView
	Objects  []ObjectResult
	Failing  int
	Passed   bool
	Duration string
}

type verifyClusterView struct {
	Name                                string
	Desired, Present, Matching, Healthy int
	OK                                  bool
}

const gaugeWidth = 600.0

// HTML renders the drill as one self-contained page: inline CSS and SVG, no
// scripts, nothing fetched.
func (rep *DrillReport) HTML() ([]byte, error) {
	v := htmlView{Rep: rep, Verdict: "FAILED", Started: rep.Started.UTC().Format(time.RFC3339), Duration: fmtDur(rep.Duration)}
	if rep.Passed {
		v.Verdict = "PASSED"
	}
	tl := rep.Timeline
	if tl == nil {
		tl = &Timeline{Drill: drillLane(rep.Phases)}
	}
	v.Drill = newTimelineChart([]TimelineLane{tl.Drill}, rep.Duration, 0)
	if r := rep.Recovery; r != nil {
		v.RTO = newRTOView(*r)
		if len(tl.Recovery) > 0 {
			c := newTimelineChart(tl.Recovery, r.Total, r.Objective)
			v.Recovery = &c
		}
		for _, ph := range r.Phases {
			ps := phaseShare{Name: ph.Name, Status: ph.Status, Duration: fmtDur(ph.Duration), Seconds: secs(ph.Duration)}
			if r.Total > 0 {
				ps.Share = round1(100 * ph.Duration.Seconds() / r.Total.Seconds())
				ps.W = round1(2 * ps.Share)
			}
			v.Phases = append(v.Phases, ps)
		}
	}
	if cur := rep.historyEntry(); len(rep.Trend) > 0 || cur != nil {
		t := newTrendChart(rep.Trend, cur)
		v.Trend = &t
	}
	if vr := rep.Verify; vr != nil {
		vv := &verifyView{Objects: vr.Objects, Passed: vr.Passed, Duration: fmtDur(vr.Duration)}
		for _, c := range vr.Clusters {
			vv.Clusters = append(vv.Clusters, verifyClusterView{Name: c.Cluster, Desired: c.Desired, Present: c.Present, Matching: c.Matching, Healthy: c.Healthy, OK: c.OK()})
		}
		for _, o := range vr.Objects {
			if !o.OK {
				vv.Failing++
			}
		}
		v.Verify = vv
	}
	var b bytes.Buffer
	if err := reportTemplates.ExecuteTemplate(&b, "drill.html.tmpl", v); err != nil {
		return nil, fmt.Errorf("render HTML report: %w", err)
	}
	return b.Bytes(), nil
}

func newRTOView(r RTO) *rtoView {
	v := &rtoView{Total: secs(r.Total), TotalText: fmtDur(r.Total), Met: r.Met, Verdict: r.Overage()}
	scale := r.Total
	if r.Objective > 0 {
		v.Objective, v.ObjectiveText = secs(r.Objective), r.Objective.String()
		scale = max(scale, r.Objective)
	}
	if scale > 0 {
		v.BarW = round1(max(gaugeWidth*r.Total.Seconds()/scale.Seconds(), 2))
		if r.Objective > 0 {
			v.ObjX = round1(gaugeWidth * r.Objective.Seconds() / scale.Seconds())
		}
	}
	return v
}

// historyEntry is this drill as the history records it; nil when it did
// not get as far as a recovery.
func (rep *DrillReport) historyEntry() *HistoryEntry {
	if rep.Recovery == nil {
		return nil
	}
	e := &HistoryEntry{Time: rep.Started, Commit: rep.Commit, Passed: rep.Passed, RTO: rep.Recovery.Total, Objective: rep.Recovery.Objective}
	for _, c := range rep.Clusters {
		e.Objects += c.Desired
	}
	return e
}

// trendSVG is the trend chart as one line of inline SVG, for Markdown
// (a blank line would end the HTML block there).
func (rep *DrillReport) trendSVG() (string, error) {
	cur := rep.historyEntry()
	if len(rep.Trend) == 0 && cur == nil {
		return "", nil
	}
	var b bytes.Buffer
	if err := reportTemplates.ExecuteTemplate(&b, "trend", newTrendChart(rep.Trend, cur)); err != nil {
		return "", fmt.Errorf("render trend chart: %w", err)
	}
	return strings.Join(strings.Fields(b.String()), " "), nil
}
