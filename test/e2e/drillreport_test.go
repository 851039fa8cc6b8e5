package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/rekindle-dev/rekindle/recovery"
	"github.com/rekindle-dev/rekindle/test/testenv"
)

// TestDrillHTMLReportInChromium runs two real drills of the example on kwok
// (the first keeps the environment, so the second has a trend), opens the
// second's drill.html in headless Chromium and checks that the rendered DOM
// holds the lanes, phases, RTO and trend points of the drill's own
// drill.json, and that a screenshot of it is not blank. The Markdown report
// goes to $GITHUB_STEP_SUMMARY with its trend chart.
// REKINDLE_UPDATE_SCREENSHOT=1 refreshes docs/drill-report.png from it.
func TestDrillHTMLReportInChromium(t *testing.T) {
	needParts(t)
	chromium := findChromium(t)
	state := t.TempDir()
	cleanupEnv(t, state, nil, "-b", example, "--env", "dev")
	first := filepath.Join(t.TempDir(), "first")
	if res := rk(t, state, nil, "drill", "-b", example, "--env", "dev", "--scope", "dev-apps", "--rto", "2m", "--keep", "--report-dir", first); res.code != 0 {
		t.Fatalf("first drill: exit %d", res.code)
	}
	reports := filepath.Join(t.TempDir(), "reports")
	summary := filepath.Join(t.TempDir(), "step-summary.md")
	res := rk(t, state, []string{"GITHUB_STEP_SUMMARY=" + summary}, "drill", "-b", example, "--env", "dev", "--scope", "dev-apps", "--rto", "2m", "--report-dir", reports)
	if res.code != 0 {
		t.Fatalf("second drill: exit %d", res.code)
	}
	var rep recovery.DrillReport
	data, err := os.ReadFile(filepath.Join(reports, "drill.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("drill.json: %v", err)
	}
	if rep.Recovery == nil || rep.Timeline == nil || len(rep.Timeline.Recovery) == 0 || len(rep.Trend) != 1 || rep.Verify == nil {
		t.Fatalf("drill.json lacks the recovery, its lanes, the one earlier drill or the verification:\n%s", data)
	}

	page := filepath.Join(reports, "drill.html")
	dump := runChromium(t, chromium, "--dump-dom", "file://"+page)
	doc, err := html.Parse(strings.NewReader(dump))
	if err != nil {
		t.Fatalf("parse Chromium's DOM: %v", err)
	}
	lanes := domLanes(doc)
	wantLanes := append([]recovery.TimelineLane{rep.Timeline.Drill}, rep.Timeline.Recovery...)
	if len(lanes) != len(wantLanes) {
		t.Fatalf("DOM has lanes %v, drill.json %d", lanes, len(wantLanes))
	}
	for i, l := range wantLanes {
		var phases []string
		for _, s := range l.Spans {
			phases = append(phases, fmt.Sprintf("%s@%.3f+%.3f", s.Phase, s.Start.Seconds(), s.Duration.Seconds()))
		}
		if lanes[i].name != l.Name || !slices.Equal(lanes[i].spans, phases) {
			t.Errorf("lane %d: DOM %s %v, drill.json %s %v", i, lanes[i].name, lanes[i].spans, l.Name, phases)
		}
	}
	if !slices.ContainsFunc(rep.Timeline.Recovery, func(l recovery.TimelineLane) bool { return l.Name == "dev-apps" && l.Lost }) {
		t.Errorf("no lane for the lost cluster dev-apps: %+v", rep.Timeline.Recovery)
	}
	for _, ph := range []string{recovery.DrillUp, recovery.DrillLose, recovery.DrillRecover, recovery.DrillVerify, recovery.DrillTeardown} {
		if !slices.ContainsFunc(rep.Timeline.Drill.Spans, func(s recovery.Span) bool { return s.Phase == ph }) {
			t.Errorf("the drill lane lacks phase %s", ph)
		}
	}
	if got, want := domAttrs(doc, "span", "data-rto-seconds"), []string{fmt.Sprintf("%.3f", rep.Recovery.Total.Seconds())}; !slices.Equal(got, want) {
		t.Errorf("RTO in the DOM %v, in drill.json %v", got, want)
	}
	var wantTrend []string
	for _, e := range rep.Trend {
		wantTrend = append(wantTrend, fmt.Sprintf("%.3f", e.RTO.Seconds()))
	}
	wantTrend = append(wantTrend, fmt.Sprintf("%.3f", rep.Recovery.Total.Seconds()))
	if got := domAttrs(doc, "circle", "data-rto-seconds"); !slices.Equal(got, wantTrend) {
		t.Errorf("trend points in the DOM %v, want the earlier drill and this one %v", got, wantTrend)
	}
	if got := domAttrs(doc, "tr", "data-object"); len(got) != len(rep.Verify.Objects) || len(got) < 10 {
		t.Errorf("%d object rows in the DOM, %d objects in drill.json", len(got), len(rep.Verify.Objects))
	}

	shot := filepath.Join(t.TempDir(), "drill.png")
	runChromium(t, chromium, "--screenshot="+shot, "--window-size=1200,900", "file://"+page)
	colors, inked := pixelVariety(t, shot)
	t.Logf("screenshot: %d distinct colours, %.0f%% of pixels not background", colors, 100*inked)
	if colors < 16 || inked < 0.05 {
		t.Errorf("the screenshot looks blank: %d colours, %.1f%% of pixels not background", colors, 100*inked)
	}
	if os.Getenv("REKINDLE_UPDATE_SCREENSHOT") != "" {
		runChromium(t, chromium, "--screenshot="+filepath.Join("..", "..", "docs", "drill-report.png"), "--window-size=1100,1900", "--hide-scrollbars", "file://"+page)
	}

	md, err := os.ReadFile(summary)
	if err != nil {
		t.Fatalf("the step summary was not written: %v", err)
	}
	if !strings.Contains(string(md), "# rekindle drill: local/dev — PASSED") || strings.Count(string(md), `class="trend-point"`) != len(wantTrend) {
		t.Errorf("step summary lacks the verdict or the trend chart's %d points:\n%s", len(wantTrend), md)
	}
}

// findChromium finds Debian's chromium; without it the test skips, except
// in CI (CI=true), where .ci/run installs it and the test fails.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Need(t, "a browser (Debian's chromium: apt-get install chromium)", errors.New("chromium is not on PATH"))
	return ""
}

// runChromium runs headless Chromium with no network, sync or first-run
// work and a profile of its own, and returns its stdout.
func runChromium(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

type domLane struct {
	name  string
	spans []string // phase@start+duration, as drill.json has them
}

// domLanes lists the timeline lanes of the page with their spans.
func domLanes(root *html.Node) []domLane {
	var out []domLane
	walkDOM(root, func(n *html.Node) {
		name, ok := attrOf(n, "data-lane")
		if !ok {
			return
		}
		l := domLane{name: name}
		walkDOM(n, func(s *html.Node) {
			if ph, ok := attrOf(s, "data-phase"); ok {
				start, _ := attrOf(s, "data-start")
				dur, _ := attrOf(s, "data-duration")
				l.spans = append(l.spans, ph+"@"+start+"+"+dur)
			}
		})
		out = append(out, l)
	})
	return out
}

func domAttrs(root *html.Node, tag, key string) []string {
	var out []string
	walkDOM(root, func(n *html.Node) {
		if v, ok := attrOf(n, key); ok && n.Data == tag {
			out = append(out, v)
		}
	})
	return out
}

func walkDOM(n *html.Node, fn func(*html.Node)) {
	if n.Type == html.ElementNode {
		fn(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walkDOM(c, fn)
	}
}

func attrOf(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// pixelVariety decodes a PNG and returns its number of distinct colours and
// the share of pixels that differ from the top-left (background) one.
func pixelVariety(t *testing.T, path string) (int, float64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode the screenshot: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < 800 || b.Dy() < 600 {
		t.Fatalf("screenshot is %v", b)
	}
	bg := img.At(b.Min.X, b.Min.Y)
	seen := map[[4]uint32]bool{}
	other := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := img.At(x, y)
			r, g, bl, a := c.RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if !sameColor(c, bg) {
				other++
			}
		}
	}
	return len(seen), float64(other) / float64(b.Dx()*b.Dy())
}

func sameColor(a, b color.Color) bool {
	r1, g1, b1, a1 := a.RGBA()
	r2, g2, b2, a2 := b.RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2
}
