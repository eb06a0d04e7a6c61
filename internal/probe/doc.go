// Package probe drives traffic and reads evidence at the gateway/mesh
// boundary: per-request outcomes through Kong, Envoy stat deltas from a
// sidecar's admin API, the X-Forwarded-Client-Cert header a backend received
// (parsed into SPIFFE URIs), and what Kong's admin API says it targets.
//
// The parsers take raw bytes and never panic on hostile input (each has a
// fuzz target); the network parts take a context and an *http.Client.
package probe
