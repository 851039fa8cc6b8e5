// Package app is the rekindle command line: one file per command, each
// parsing flags into an options struct and making one library call. Only this
// package creates the root context (signal-aware, bounded by --timeout).
package app
