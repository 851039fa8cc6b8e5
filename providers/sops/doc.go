// Package sops decrypts and encrypts blueprint files with SOPS
// (github.com/getsops/sops/v3) for age recipients.
//
// Identities are handed to the SOPS library explicitly (a key service of
// this package's own, through age.ParsedIdentities), so nothing here reads or
// changes the process environment except LoadKeys, which reads
// SOPS_AGE_KEY_FILE and SOPS_AGE_KEY. Key material and decrypted values never
// appear in an error, a String or a JSON form.
package sops
