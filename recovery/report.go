package recovery

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// save appends the drill to the history and writes its reports.
func (rep *DrillReport) save(opts DrillOptions) error {
	if opts.HistoryFile != "" {
		e := HistoryEntry{Time: rep.Started, Commit: rep.Commit, Passed: rep.Passed}
		if h := rep.historyEntry(); h != nil {
			e = *h
		}
		trend, err := appendHistory(opts.HistoryFile, e)
		if err != nil {
			return fmt.Errorf("drill history: %w", err)
		}
		rep.Trend = trend
	}
	if opts.MetricsFile != "" {
		if err := rep.WriteMetricsFile(opts.MetricsFile); err != nil {
			return err
		}
	}
	md := rep.Markdown()
	if opts.StepSummary != "" {
		if err := appendFile(opts.StepSummary, md); err != nil {
			return fmt.Errorf("write the step summary: %w", err)
		}
	}
	if opts.ReportDir == "" {
		return nil
	}
	if err := os.MkdirAll(opts.ReportDir, 0o755); err != nil {
		return fmt.Errorf("report dir: %w", err)
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	junit, err := rep.JUnit()
	if err != nil {
		return err
	}
	page, err := rep.HTML()
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{"drill.json": append(js, '\n'), "junit.xml": junit, "drill.md": []byte(md), "drill.html": page} {
		if err := os.WriteFile(filepath.Join(opts.ReportDir, name), data, 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// JUnit renders the drill as JUnit XML: one testcase per drill phase, per
// recovery phase, per cluster, and one for the objective.
func (rep *DrillReport) JUnit() ([]byte, error) {
	suite := junitSuite{Name: fmt.Sprintf("rekindle drill %s/%s", rep.Blueprint, rep.Env), Time: secs(rep.Duration)}
	add := func(class, name string, d time.Duration, failure string) {
		c := junitCase{Name: name, Classname: class, Time: secs(d)}
		if failure != "" {
			c.Failure = &junitFailure{Message: firstLineOf(failure), Text: failure}
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, c)
	}
	for _, ph := range rep.Phases {
		add("drill", ph.Name, ph.Duration, failureOf(ph))
	}
	if rep.Recovery != nil {
		for _, ph := range rep.Recovery.Phases {
			add("recovery", ph.Name, ph.Duration, failureOf(ph))
		}
		fail := ""
		if !rep.Recovery.Met {
			fail = rep.Recovery.Overage()
		}
		add("recovery", "rto-objective", rep.Recovery.Total, fail)
	}
	for _, c := range rep.Clusters {
		fail := ""
		if !c.Ready || c.Healthy != c.Desired {
			fail = fmt.Sprintf("%d/%d objects healthy", c.Healthy, c.Desired)
		}
		add("cluster", c.Name, c.HealthyAfter, fail)
	}
	suite.Tests = len(suite.Cases)
	out, err := xml.MarshalIndent(junitSuites{Suites: []junitSuite{suite}}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

func failureOf(ph Phase) string {
	if ph.Status == "failed" {
		return ph.Detail
	}
	return ""
}

func firstLineOf(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// Markdown renders the drill for a person, with the trend as an inline SVG
// chart (for drill.md and CI summaries).
func (rep *DrillReport) Markdown() string { return rep.markdown(true) }

// Text is Markdown without the chart, for a terminal.
func (rep *DrillReport) Text() string { return rep.markdown(false) }

func (rep *DrillReport) markdown(chart bool) string {
	var b strings.Builder
	verdict := "PASSED"
	if !rep.Passed {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "# rekindle drill: %s/%s — %s\n\n", rep.Blueprint, rep.Env, verdict)
	fmt.Fprintf(&b, "- started: %s, took %s\n", rep.Started.Format(time.RFC3339), rep.Duration.Round(time.Millisecond))
	if rep.Commit != "" {
		fmt.Fprintf(&b, "- blueprint commit: `%s`\n", rep.Commit)
	}
	fmt.Fprintf(&b, "- clusters destroyed: %s\n", strings.Join(rep.Lost, ", "))
	if rep.Recovery != nil {
		obj := "no objective set"
		if rep.Recovery.Objective > 0 {
			obj = fmt.Sprintf("objective %s: **%s**", rep.Recovery.Objective, map[bool]string{true: "met", false: "missed"}[rep.Recovery.Met])
		}
		fmt.Fprintf(&b, "- **RTO: %s** (%s)\n", rep.Recovery.Total.Round(time.Millisecond), obj)
	}
	if rep.Failure != "" {
		fmt.Fprintf(&b, "- failure: %s\n", rep.Failure)
	}
	b.WriteString("\n## Drill phases\n\n| phase | duration | status | detail |\n|---|---|---|---|\n")
	for _, ph := range rep.Phases {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", ph.Name, ph.Duration.Round(time.Millisecond), ph.Status, mdEscape(ph.Detail))
	}
	if rep.Recovery != nil {
		b.WriteString("\n## Recovery phases\n\n| phase | duration | share |\n|---|---|---|\n")
		for _, ph := range rep.Recovery.Phases {
			share := 0.0
			if rep.Recovery.Total > 0 {
				share = 100 * ph.Duration.Seconds() / rep.Recovery.Total.Seconds()
			}
			fmt.Fprintf(&b, "| %s | %s | %.0f%% |\n", ph.Name, ph.Duration.Round(time.Millisecond), share)
		}
	}
	if len(rep.Clusters) > 0 {
		b.WriteString("\n## Clusters after recovery\n\n| cluster | provider | objects | healthy | healthy after |\n|---|---|---|---|---|\n")
		for _, c := range rep.Clusters {
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %s |\n", c.Name, c.Provider, c.Desired, c.Healthy, c.HealthyAfter.Round(time.Millisecond))
		}
	}
	if len(rep.Differences) > 0 {
		b.WriteString("\n## Differences from Git\n\n")
		for _, d := range rep.Differences {
			fmt.Fprintf(&b, "- %s\n", mdEscape(d))
		}
	}
	if svg, err := rep.trendSVG(); chart && err == nil && svg != "" {
		b.WriteString("\n## RTO trend\n\n" + svg + "\n")
	}
	if len(rep.Trend) > 0 {
		b.WriteString("\n## Trend (earlier drills, oldest first)\n\n| when | commit | RTO | passed |\n|---|---|---|---|\n")
		for _, e := range rep.Trend {
			fmt.Fprintf(&b, "| %s | %.12s | %s | %t |\n", e.Time.Format(time.RFC3339), e.Commit, e.RTO.Round(time.Millisecond), e.Passed)
		}
		if rep.Recovery != nil {
			last := rep.Trend[len(rep.Trend)-1].RTO
			if last > 0 {
				fmt.Fprintf(&b, "\nThis drill's RTO is %.2fx the previous one.\n", rep.Recovery.Total.Seconds()/last.Seconds())
			}
		}
	}
	return b.String()
}

// appendFile appends s to the file at path, creating it.
func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}
