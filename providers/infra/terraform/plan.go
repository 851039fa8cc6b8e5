package terraform

import (
	"fmt"
	"sort"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/rekindle-dev/rekindle/providers/infra"
)

// summarize counts resource actions the way terraform's "Plan:" line does
// and lists what would be replaced or destroyed.
func summarize(tp *tfjson.Plan, changes bool) *infra.Plan {
	plan := &infra.Plan{HasChanges: changes}
	var replaced, destroyed []string
	for _, rc := range tp.ResourceChanges {
		if rc == nil || rc.Change == nil || rc.Mode == tfjson.DataResourceMode {
			continue
		}
		a := rc.Change.Actions
		switch {
		case a.Replace():
			plan.Add++
			plan.Destroy++
			replaced = append(replaced, rc.Address)
		case a.Create():
			plan.Add++
		case a.Update():
			plan.Change++
		case a.Delete():
			plan.Destroy++
			destroyed = append(destroyed, rc.Address)
		}
	}
	sort.Strings(replaced)
	sort.Strings(destroyed)
	plan.Replace = append(append([]string(nil), replaced...), destroyed...)
	sort.Strings(plan.Replace)

	var b strings.Builder
	fmt.Fprintf(&b, "%d to add, %d to change, %d to destroy", plan.Add, plan.Change, plan.Destroy)
	if len(replaced) > 0 {
		fmt.Fprintf(&b, "; replace: %s", strings.Join(replaced, ", "))
	}
	if len(destroyed) > 0 {
		fmt.Fprintf(&b, "; destroy: %s", strings.Join(destroyed, ", "))
	}
	if changes && plan.Add+plan.Change+plan.Destroy == 0 {
		b.WriteString("; outputs change")
	}
	plan.Summary = b.String()
	return plan
}
