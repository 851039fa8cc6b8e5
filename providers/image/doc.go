// Package image builds rekindle's container image with go-containerregistry,
// without Docker: FROM scratch, one layer holding a CA bundle at
// /etc/ssl/certs/ca-certificates.crt, one holding the rekindle binary at
// /rekindle, run as uid/gid 65532 with the entrypoint ["/rekindle", "agent"].
//
// Builds are reproducible: every file, layer and config carries the same fixed
// timestamp and ownership, so the same binaries and CA bundle give the same
// digest. Several platforms give an OCI image index with one image per
// platform. Push sends the result to a registry with credentials from Docker's
// config (authn.DefaultKeychain) over verified TLS; plain HTTP is allowed only
// to a loopback registry. WriteLayout writes an OCI image layout as a tarball.
package image
