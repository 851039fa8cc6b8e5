// Package gitserver serves real Git repositories on loopback for tests.
//
// Everything here drives the real git CLI (git init, git commit, git daemon,
// git http-backend and git upload-pack) so that tests of rekindle's Git
// provider, blueprint loading and end-to-end flows fetch over the same
// protocols a user's Git host speaks, without mocks and without the network:
//
//   - InitRepo, Commit, WriteFile and Git create repositories with a fixed
//     author, committer and date, isolated from the user's git config.
//   - NewHTTP serves every repository under a base directory through
//     git http-backend (smart HTTP), optionally behind basic auth with a token.
//   - NewDaemon serves them over git:// with git daemon.
//   - NewSSH serves them over ssh:// from an in-process SSH server that
//     accepts one public key and runs git upload-pack.
//
// Servers listen on 127.0.0.1 only and stop when the test ends.
package gitserver
