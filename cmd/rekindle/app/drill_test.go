package app

import (
	"strings"
	"testing"
)

// TestDrillBadPublishFlags: bad --notify, --notify-format or --pushgateway
// values are bad usage (exit 2), named, before anything runs; the webhook
// URL, which may hold a token, is never printed.
func TestDrillBadPublishFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--notify", "ftp://hooks.example.com/SECRET-TOKEN"}, "ERROR: --notify/--notify-format: notify URL: want an http:// or https:// URL"},
		{[]string{"--notify", "https://hooks.example.com/SECRET-TOKEN", "--notify-format", "xml"}, `notify format must be json or slack, got "xml"`},
		{[]string{"--pushgateway", "gw:9091/SECRET-TOKEN"}, "ERROR: --pushgateway: pushgateway URL:"},
	} {
		code, stdout, stderr := run(t, append([]string{"drill", "-b", example, "--env", "dev"}, tc.args...)...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) || strings.Contains(stdout+stderr, "SECRET-TOKEN") {
			t.Errorf("%v: exit %d, want 2 with %q and no token\nstderr: %s", tc.args, code, tc.want, stderr)
		}
	}
}
