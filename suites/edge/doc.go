// Package edge holds the edge mTLS suite: NGINX, Envoy and Kong in front of
// the echo backend, each checked with a table of client certificates (none,
// foreign CA, expired, valid) and a TLS 1.1 client, plus Kong's upstream mTLS
// and per-SNI certificates. The NGINX table also runs against a local nginx
// process, so it runs without Docker; the container specs skip with the Docker
// reason. Run: go test ./suites/edge/... -ginkgo.label-filter=edge
package edge
