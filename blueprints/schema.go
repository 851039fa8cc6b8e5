package blueprints

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

var durationType = reflect.TypeOf(Duration{})

// checkSchema walks a YAML node against a Go type (through its json tags),
// recording the line of every field and a problem for each unknown field or
// value of the wrong type. It never stops at the first problem: what it
// refuses is cut from the tree (unknown fields removed, values of the wrong
// type set to null) and marked bad, so the rest can still be decoded and
// validated in the same run without reporting the same mistake twice.
func checkSchema(n *yaml.Node, t reflect.Type, path string, p *problems) {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		checkSchema(n.Content[0], t, path, p)
		return
	}
	if path != "" {
		p.lines[path] = n.Line
	}
	before := len(p.list)
	defer func() {
		for _, q := range p.list[before:] {
			if q.Field == path {
				p.markBad(path)
				nullify(n)
				return
			}
		}
	}()
	if n.Kind == yaml.AliasNode {
		p.add(path, "YAML aliases are not allowed in %s", FileName)
		return
	}
	if n.Tag == "!!null" {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			p.add(path, "must be a duration string like \"10m\", got %s", describe(n))
		} else if _, err := time.ParseDuration(n.Value); err != nil {
			p.add(path, "invalid duration %q (use a form like 90s, 10m, 1h)", n.Value)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			p.add(path, "must be a mapping, got %s", describe(n))
			return
		}
		fields := jsonFields(t)
		seen := map[string]bool{}
		kept := n.Content[:0:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			fp := join(path, k.Value)
			p.lines[fp] = k.Line
			if seen[k.Value] {
				p.add(fp, "duplicate field")
				continue
			}
			seen[k.Value] = true
			ft, ok := fields[k.Value]
			if !ok {
				p.add(fp, "unknown field (known fields: %s)", strings.Join(sortedKeys(fields), ", "))
				continue
			}
			checkSchema(v, ft, fp, p)
			p.lines[fp] = k.Line
			if !p.bad[fp] {
				kept = append(kept, k, v)
			}
		}
		n.Content = kept
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			p.add(path, "must be a list, got %s", describe(n))
			return
		}
		for i, c := range n.Content {
			checkSchema(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), p)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			p.add(path, "must be a mapping, got %s", describe(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkSchema(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), p)
		}
	case reflect.Interface:
		checkNoAliases(n, path, p)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			p.add(path, "must be a string, got %s", describe(n))
		}
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			p.add(path, "must be an integer, got %s", describe(n))
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			p.add(path, "must be true or false, got %s", describe(n))
		}
	}
}

// nullify turns a refused node into a null scalar, in place, so its place in
// lists (and so the index of its siblings) is kept.
func nullify(n *yaml.Node) {
	*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null", Line: n.Line, Column: n.Column}
}

// checkNoAliases refuses aliases in free-form values: they are how YAML bombs grow.
func checkNoAliases(n *yaml.Node, path string, p *problems) {
	if n.Kind == yaml.AliasNode {
		p.add(path, "YAML aliases are not allowed in %s", FileName)
		return
	}
	for _, c := range n.Content {
		checkNoAliases(c, path, p)
	}
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.Tag {
	case "!!str":
		return fmt.Sprintf("string %q", n.Value)
	case "!!int":
		return "number " + n.Value
	case "!!float":
		return "number " + n.Value
	case "!!bool":
		return "boolean " + n.Value
	}
	return fmt.Sprintf("%q", n.Value)
}

func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		out[name] = f.Type
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}
