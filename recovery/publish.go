package recovery

import (
	"context"
	"fmt"
)

// publish pushes the drill's metrics and posts its notification. Neither
// can fail the drill: what does not get through is a warning.
func (rep *DrillReport) publish(ctx context.Context, opts DrillOptions) {
	warn := func(format string, args ...any) {
		if opts.Warn != nil {
			fmt.Fprintf(opts.Warn, "WARNING: "+format+"\n", args...)
		}
	}
	if opts.Pushgateway.URL != "" {
		if err := PushMetrics(ctx, opts.Pushgateway, rep); err != nil {
			warn("drill metrics not pushed: %v", err)
		}
	}
	if opts.Notify.URL != "" {
		if err := Notify(ctx, opts.Notify, rep); err != nil {
			warn("drill notification not sent: %v", err)
		}
	}
}
