// Package blueprints holds the rekindle.yaml schema and turns a blueprint repo
// into what each cluster must hold.
//
// Load reads rekindle.yaml from a checked-out repo, checks it against the
// schema (unknown fields, wrong types) and validates it (paths, providers,
// dependsOn, duplicate names), reporting every problem at once with the file,
// line and field. Render turns one cluster's workloads (plain YAML
// directories, kustomizations, Helm charts) into ordered objects.
package blueprints
