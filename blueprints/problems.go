package blueprints

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a blueprint, located in its file.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	if p.Field != "" {
		fmt.Fprintf(&b, ": %s", p.Field)
	}
	fmt.Fprintf(&b, ": %s", p.Message)
	return b.String()
}

// InvalidError lists every problem found in a blueprint. Commands exit 2 on it.
type InvalidError struct {
	Problems []Problem
}

func (e *InvalidError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid blueprint: " + e.Problems[0].String()
	}
	lines := make([]string, 0, len(e.Problems)+1)
	lines = append(lines, fmt.Sprintf("invalid blueprint: %d problems", len(e.Problems)))
	for _, p := range e.Problems {
		lines = append(lines, "  "+p.String())
	}
	return strings.Join(lines, "\n")
}

// problems collects problems with the line of each field path.
type problems struct {
	file  string
	lines map[string]int
	list  []Problem
	// bad holds the field paths the schema check refused (and cut from the
	// tree): later checks say nothing more about them or what they hold.
	bad map[string]bool
}

// add records a problem at a field path such as spec.environments[0].name; the
// line is that of the path, or of its nearest parent that has one.
func (p *problems) add(field, format string, args ...any) {
	if p.underBad(field) {
		return
	}
	p.list = append(p.list, Problem{File: p.file, Line: p.lineOf(field), Field: field, Message: fmt.Sprintf(format, args...)})
}

func (p *problems) markBad(field string) {
	if p.bad == nil {
		p.bad = map[string]bool{}
	}
	p.bad[field] = true
}

func (p *problems) underBad(field string) bool {
	if p.bad[""] {
		return true // the whole file was refused: nothing more to say
	}
	for f := field; f != ""; f = parentPath(f) {
		if p.bad[f] {
			return true
		}
	}
	return false
}

func (p *problems) lineOf(field string) int {
	for f := field; f != ""; f = parentPath(f) {
		if l, ok := p.lines[f]; ok {
			return l
		}
	}
	return 0
}

func parentPath(f string) string {
	i := strings.LastIndexAny(f, ".[")
	if i < 0 {
		return ""
	}
	return f[:i]
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	sort.SliceStable(p.list, func(i, j int) bool { return p.list[i].Line < p.list[j].Line })
	return &InvalidError{Problems: p.list}
}
