// Package workflows checks the CI workflows rekindle ships for scheduled
// drills (docs/ci and the copies in blueprints/examples): the GitHub one
// with actionlint, the GitLab one against the structure GitLab requires,
// and both against the drill command's real flags.
package workflows
