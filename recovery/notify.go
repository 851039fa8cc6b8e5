package recovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Notification formats.
const (
	NotifyJSON  = "json"
	NotifySlack = "slack"
)

// NotifyOptions configure the webhook a drill posts its summary to.
type NotifyOptions struct {
	// URL of the webhook; empty: no notification. It is never printed
	// whole (webhook URLs often hold a token): errors name its host only.
	URL string
	// Format is NotifyJSON (default) or NotifySlack ({"text": ...}).
	Format string
	// ReportURL, when set, is linked from the notification.
	ReportURL string
	// Attempts bounds the tries (default 4); Backoff is the first wait
	// between them, doubled after each (default 1s).
	Attempts int
	Backoff  time.Duration
	// Client makes the requests; nil: one with a 10s timeout.
	Client *http.Client
}

// Validate checks the options as given on a command line.
func (o NotifyOptions) Validate() error {
	if o.URL != "" {
		if err := checkHTTPURL(o.URL); err != nil {
			return fmt.Errorf("notify URL: %w", err)
		}
	}
	if o.Format != "" && o.Format != NotifyJSON && o.Format != NotifySlack {
		return fmt.Errorf("notify format must be %s or %s, got %q", NotifyJSON, NotifySlack, o.Format)
	}
	return nil
}

// checkHTTPURL accepts absolute http(s) URLs with a host; the message never
// repeats the URL.
func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http:// or https:// URL with a host")
	}
	return nil
}

// Notification is the JSON summary of a drill.
type Notification struct {
	Event            string    `json:"event"`
	Result           string    `json:"result"`
	Blueprint        string    `json:"blueprint"`
	Env              string    `json:"env"`
	Commit           string    `json:"commit,omitempty"`
	Started          time.Time `json:"started"`
	DurationSeconds  float64   `json:"durationSeconds"`
	RTOSeconds       float64   `json:"rtoSeconds"`
	ObjectiveSeconds float64   `json:"objectiveSeconds,omitempty"`
	ObjectiveMet     bool      `json:"objectiveMet"`
	// FailingPhases are the drill phases and recovery phases
	// ("recovery/replay") that failed, the clusters whose own pipeline
	// failed ("cluster/edge"), and "rto-objective" when it was missed.
	FailingPhases []string `json:"failingPhases,omitempty"`
	Failure       string   `json:"failure,omitempty"`
	Differences   int      `json:"differences,omitempty"`
	ReportURL     string   `json:"reportURL,omitempty"`
}

// Notification summarizes the drill for a webhook.
func (rep *DrillReport) Notification(reportURL string) Notification {
	n := Notification{
		Event: "rekindle.drill", Result: "failed", Blueprint: rep.Blueprint, Env: rep.Env, Commit: rep.Commit,
		Started: rep.Started, DurationSeconds: rep.Duration.Seconds(), Failure: rep.Failure,
		Differences: len(rep.Differences), ReportURL: reportURL,
	}
	if rep.Passed {
		n.Result = "passed"
	}
	for _, ph := range rep.Phases {
		if ph.Status == "failed" {
			n.FailingPhases = append(n.FailingPhases, ph.Name)
		}
	}
	if r := rep.Recovery; r != nil {
		n.RTOSeconds, n.ObjectiveSeconds, n.ObjectiveMet = r.Total.Seconds(), r.Objective.Seconds(), r.Met
		for _, ph := range r.Phases {
			if ph.Status == "failed" {
				n.FailingPhases = append(n.FailingPhases, "recovery/"+ph.Name)
			}
		}
		for _, l := range r.Lanes {
			if l.Error != "" {
				n.FailingPhases = append(n.FailingPhases, "cluster/"+l.Cluster)
			}
		}
		if !r.Met {
			n.FailingPhases = append(n.FailingPhases, "rto-objective")
		}
	}
	return n
}

// slackText is the notification as Slack mrkdwn.
func (n Notification) slackText() string {
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace
	icon := ":white_check_mark:"
	if n.Result != "passed" {
		icon = ":rotating_light:"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s *rekindle drill %s/%s %s*", icon, esc(n.Blueprint), esc(n.Env), strings.ToUpper(n.Result))
	fmt.Fprintf(&b, "\nRTO %s", fmtDur(time.Duration(n.RTOSeconds*float64(time.Second))))
	if n.ObjectiveSeconds > 0 {
		verdict := map[bool]string{true: "met", false: "missed"}[n.ObjectiveMet]
		fmt.Fprintf(&b, " against the %s objective: %s", time.Duration(n.ObjectiveSeconds*float64(time.Second)), verdict)
	}
	if len(n.FailingPhases) > 0 {
		fmt.Fprintf(&b, "\nFailing: %s", esc(strings.Join(n.FailingPhases, ", ")))
	}
	if n.Failure != "" {
		fmt.Fprintf(&b, "\n> %s", esc(firstLineOf(n.Failure)))
	}
	if n.ReportURL != "" {
		fmt.Fprintf(&b, "\n<%s|Drill report>", n.ReportURL)
	}
	return b.String()
}

// Notify posts the drill's summary to the webhook, retrying network
// errors, 429 and 5xx answers with a doubling backoff, at most
// opts.Attempts times. Other answers are final.
func Notify(ctx context.Context, opts NotifyOptions, rep *DrillReport) error {
	n := rep.Notification(opts.ReportURL)
	var body any = n
	if opts.Format == NotifySlack {
		body = map[string]string{"text": n.slackText()}
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return postWithRetry(ctx, opts.Client, http.MethodPost, opts.URL, "application/json", payload, opts.Attempts, opts.Backoff)
}

// postWithRetry sends payload until it is accepted (2xx), the answer is
// final (another status below 500, except 429), or the attempts are spent.
// Errors name the URL's host only.
func postWithRetry(ctx context.Context, client *http.Client, method, target, contentType string, payload []byte, attempts int, backoff time.Duration) error {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if attempts <= 0 {
		attempts = 4
	}
	if backoff <= 0 {
		backoff = time.Second
	}
	host := "the server"
	if u, err := url.Parse(target); err == nil && u.Host != "" {
		host = u.Host
	}
	var last error
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s to %s: %w (after %v)", method, host, ctx.Err(), last)
			case <-time.After(backoff << (i - 1)):
			}
		}
		retry, err := send(ctx, client, method, target, contentType, payload)
		if err == nil {
			return nil
		}
		last = err
		if !retry {
			break
		}
	}
	return fmt.Errorf("%s to %s: %w", method, host, last)
}

// send makes one request; retry says whether another attempt could help.
func send(ctx context.Context, client *http.Client, method, target, contentType string, payload []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(payload))
	if err != nil {
		return false, errors.New("bad URL")
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "rekindle-drill")
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the whole URL
		}
		return ctx.Err() == nil, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	err = fmt.Errorf("answered %s: %s", resp.Status, strings.TrimSpace(firstLineOf(string(msg))))
	return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests, err
}
