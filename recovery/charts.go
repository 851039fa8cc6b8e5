package recovery

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Chart geometry, in SVG user units (the SVGs scale to the page width).
const (
	chartWidth  = 960.0
	laneLabelW  = 150.0
	laneHeight  = 30.0
	laneGap     = 8.0
	axisHeight  = 24.0
	trendHeight = 220.0
	trendLeft   = 56.0
	trendBottom = 36.0
)

// timelineChart is a lane chart ready to draw.
type timelineChart struct {
	Width, Height, Left, Right float64
	PlotW, AxisY               float64
	Lanes                      []laneView
	Ticks                      []tickView
	// Objective is the objective's marker; nil when there is none or it is
	// far off the scale (ObjectiveNote says so).
	Objective     *tickView
	ObjectiveNote string
}

type laneView struct {
	Name           string
	Lost, Critical bool
	Error          string
	Y, Mid         float64
	Spans          []spanView
}

type spanView struct {
	Phase, Status   string
	Shared          bool
	X, W, Y, Mid    float64
	Label           string // drawn inside when there is room
	Start, Duration string // "1.234" seconds, for machines
	Title           string // for people, shown on hover
}

type tickView struct {
	X     float64
	Label string
}

// newTimelineChart lays out lanes on one time axis. The axis covers the
// longest lane, and the objective too when it is at most 1.5 times that.
func newTimelineChart(lanes []TimelineLane, total, objective time.Duration) timelineChart {
	end := total
	for _, l := range lanes {
		for _, s := range l.Spans {
			end = max(end, s.End())
		}
	}
	c := timelineChart{Width: chartWidth, Left: laneLabelW, Right: chartWidth - 12}
	c.PlotW = c.Right - c.Left
	if objective > 0 {
		if objective <= end*3/2 || end == 0 {
			end = max(end, objective)
		} else {
			c.ObjectiveNote = fmt.Sprintf("The %s objective is off this scale: the recovery used %.0f%% of it.", objective, 100*total.Seconds()/objective.Seconds())
		}
	}
	if end <= 0 {
		end = time.Second
	}
	x := func(d time.Duration) float64 { return c.Left + (c.Right-c.Left)*d.Seconds()/end.Seconds() }
	y := 4.0
	for _, l := range lanes {
		lv := laneView{Name: l.Name, Lost: l.Lost, Critical: l.Critical, Error: l.Error, Y: y, Mid: y + laneHeight/2}
		for _, s := range l.Spans {
			sv := spanView{
				Phase: s.Phase, Status: s.Status, Shared: s.Shared,
				X: round1(x(s.Start)), W: round1(max(x(s.End())-x(s.Start), 1.5)), Y: lv.Y, Mid: lv.Mid,
				Start: secs(s.Start), Duration: secs(s.Duration),
			}
			sv.Title = fmt.Sprintf("%s: %s, from %s to %s", s.Phase, fmtDur(s.Duration), fmtDur(s.Start), fmtDur(s.End()))
			if s.Shared {
				sv.Title += " (a step run once for the whole environment)"
			}
			if s.Status == "failed" {
				sv.Title += " — failed"
			}
			if sv.W >= float64(len(s.Phase))*7+8 {
				sv.Label = s.Phase
			}
			lv.Spans = append(lv.Spans, sv)
		}
		c.Lanes = append(c.Lanes, lv)
		y += laneHeight + laneGap
	}
	c.AxisY = y
	c.Height = y + axisHeight
	for _, t := range niceTicks(end, 8) {
		c.Ticks = append(c.Ticks, tickView{X: round1(x(t)), Label: fmtDur(t)})
	}
	if objective > 0 && c.ObjectiveNote == "" {
		c.Objective = &tickView{X: round1(x(objective)), Label: "objective " + objective.String()}
	}
	return c
}

// trendChart is the RTO of the last drills as a line with points.
type trendChart struct {
	Width, Height, Left, Right, Top, Bottom float64
	Points                                  []trendPoint
	Line                                    string // the polyline's points
	YTicks                                  []trendTick
	XLabels                                 []trendTick
	Objective                               *trendTick
}

type trendPoint struct {
	X, Y    float64
	RTO     string // seconds
	Time    string // RFC 3339
	Passed  bool
	Current bool
	Title   string
}

type trendTick struct {
	Pos    float64
	Label  string
	Anchor string // text-anchor of x labels
}

// newTrendChart charts earlier drills (oldest first) and this one (current,
// when rto > 0). The y axis starts at zero and shows the objective when it
// is at most twice the slowest drill.
func newTrendChart(trend []HistoryEntry, current *HistoryEntry) trendChart {
	entries := append([]HistoryEntry(nil), trend...)
	if current != nil {
		entries = append(entries, *current)
	}
	c := trendChart{Width: chartWidth, Height: trendHeight, Left: trendLeft, Right: chartWidth - 16, Top: 12, Bottom: trendHeight - trendBottom}
	var top time.Duration
	objective := time.Duration(0)
	for _, e := range entries {
		top = max(top, e.RTO)
		if e.Objective > 0 {
			objective = e.Objective
		}
	}
	if objective > 0 && objective <= 2*top {
		top = max(top, objective)
	}
	if top <= 0 {
		top = time.Second
	}
	top = top * 11 / 10
	y := func(d time.Duration) float64 { return c.Bottom - (c.Bottom-c.Top)*d.Seconds()/top.Seconds() }
	step := (c.Right - c.Left) / float64(max(len(entries)-1, 1))
	var line []string
	for i, e := range entries {
		p := trendPoint{
			X: round1(c.Left + step*float64(i)), Y: round1(y(e.RTO)),
			RTO: secs(e.RTO), Time: e.Time.UTC().Format(time.RFC3339), Passed: e.Passed,
			Current: current != nil && i == len(entries)-1,
		}
		if len(entries) == 1 {
			p.X = round1((c.Left + c.Right) / 2)
		}
		verdict := map[bool]string{true: "passed", false: "failed"}[e.Passed]
		p.Title = fmt.Sprintf("%s: RTO %s, %s", e.Time.UTC().Format("2006-01-02 15:04"), fmtDur(e.RTO), verdict)
		if e.Commit != "" {
			p.Title += fmt.Sprintf(", commit %.12s", e.Commit)
		}
		if p.Current {
			p.Title += " (this drill)"
		}
		c.Points = append(c.Points, p)
		line = append(line, fmt.Sprintf("%.1f,%.1f", p.X, p.Y))
		c.XLabels = append(c.XLabels, trendTick{Pos: p.X, Label: e.Time.UTC().Format("01-02 15:04"), Anchor: "middle"})
	}
	c.Line = strings.Join(line, " ")
	if n := len(c.XLabels); n > 1 {
		c.XLabels[0].Anchor, c.XLabels[n-1].Anchor = "start", "end"
	}
	for _, t := range niceTicks(top, 5) {
		c.YTicks = append(c.YTicks, trendTick{Pos: round1(y(t)), Label: fmtDur(t)})
	}
	if objective > 0 && objective <= top {
		c.Objective = &trendTick{Pos: round1(y(objective)), Label: "objective " + objective.String()}
	}
	if len(c.XLabels) > 8 { // keep the labels apart: every other one
		for i := range c.XLabels {
			if i%2 == 1 && i != len(c.XLabels)-1 {
				c.XLabels[i].Label = ""
			}
		}
	}
	return c
}

// niceTicks returns about n round offsets from 0 to end.
func niceTicks(end time.Duration, n int) []time.Duration {
	raw := end.Seconds() / float64(n)
	if raw <= 0 {
		return nil
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []time.Duration
	for t := 0.0; t <= end.Seconds()+1e-9; t += step {
		out = append(out, time.Duration(t*float64(time.Second)))
	}
	return out
}

// fmtDur is a duration for people: 850ms, 9.1s, 2m5s.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }
