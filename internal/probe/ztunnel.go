package probe

import (
	"fmt"
	"sort"
	"strings"
)

// Where ztunnel serves its metrics (istio/ztunnel 1.31.0-rc.0: src/config.rs
// DEFAULT_STATS_PORT, src/metrics/server.rs). The body is OpenMetrics text
// whatever the Accept header; ParseSidecarMetrics reads it (a counter's
// samples keep their _total suffix and arrive as an untyped family).
const (
	ZtunnelMetricsPort       = 15020
	ZtunnelMetricsPath       = "/metrics"
	ZtunnelConnectionsOpened = "istio_tcp_connections_opened_total"
)

// ZtunnelConnections is one istio_tcp_connections_opened_total series
// (labels: istio/ztunnel src/proxy/metrics.rs CommonTrafficLabels; an unset
// label reads "unknown").
type ZtunnelConnections struct {
	Reporter             string // "destination" on the backend's node, "source" on the client's
	SourcePrincipal      string // the peer's SPIFFE ID from the mTLS handshake, else "unknown"
	SourceWorkload       string
	DestinationWorkload  string
	DestinationNamespace string
	DestinationService   string
	SecurityPolicy       string // "mutual_tls" or "unknown" (plaintext)
	ResponseFlags        string // "-", "DENY" (authorization policy) or "CONNECT"
	Count                float64
}

// A ConnectionFilter selects ztunnel series; empty fields match all.
type ConnectionFilter struct {
	Reporter             string
	DestinationWorkload  string
	DestinationNamespace string
}

func (f ConnectionFilter) match(c ZtunnelConnections) bool {
	return (f.Reporter == "" || f.Reporter == c.Reporter) &&
		(f.DestinationWorkload == "" || f.DestinationWorkload == c.DestinationWorkload) &&
		(f.DestinationNamespace == "" || f.DestinationNamespace == c.DestinationNamespace)
}

// ZtunnelConnections returns the matching connection-open series, sorted.
func (m *SidecarMetrics) ZtunnelConnections(f ConnectionFilter) []ZtunnelConnections {
	fam := m.Families[ZtunnelConnectionsOpened]
	if fam == nil {
		return nil
	}
	var out []ZtunnelConnections
	for _, metric := range fam.GetMetric() {
		l := labelMap(metric)
		c := ZtunnelConnections{
			Reporter: l["reporter"], SourcePrincipal: l["source_principal"], SourceWorkload: l["source_workload"],
			DestinationWorkload: l["destination_workload"], DestinationNamespace: l["destination_workload_namespace"],
			DestinationService: l["destination_service"], SecurityPolicy: l["connection_security_policy"],
			ResponseFlags: l["response_flags"], Count: sampleValue(metric),
		}
		if f.match(c) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

func (c ZtunnelConnections) key() string {
	return strings.Join([]string{c.Reporter, c.SourcePrincipal, c.SourceWorkload, c.DestinationNamespace,
		c.DestinationWorkload, c.DestinationService, c.SecurityPolicy, c.ResponseFlags}, "\x00")
}

// ZtunnelConnectionDelta is what a probe added between two scrapes of the
// same ztunnel: the series whose count grew, with the growth as Count.
func ZtunnelConnectionDelta(before, after *SidecarMetrics, f ConnectionFilter) []ZtunnelConnections {
	old := map[string]float64{}
	for _, c := range before.ZtunnelConnections(f) {
		old[c.key()] = c.Count
	}
	var out []ZtunnelConnections
	for _, c := range after.ZtunnelConnections(f) {
		if d := c.Count - old[c.key()]; d > 0 {
			c.Count = d
			out = append(out, c)
		}
	}
	return out
}

// AmbientMTLSProof judges a delta taken on the backend's node: every new
// inbound connection must be mutual TLS from wantPrincipal, and there must be
// at least one. The error says what the delta shows instead.
func AmbientMTLSProof(delta []ZtunnelConnections, wantPrincipal string) error {
	var mtls float64
	var other []string
	for _, c := range delta {
		if c.Reporter != "destination" {
			continue
		}
		if c.SecurityPolicy == MutualTLS && c.SourcePrincipal == wantPrincipal {
			mtls += c.Count
			continue
		}
		other = append(other, fmt.Sprintf("%v from %s (%s, flags %s)", c.Count, c.SourcePrincipal, c.SecurityPolicy, c.ResponseFlags))
	}
	switch {
	case len(other) > 0:
		return fmt.Errorf("ztunnel opened connections to the backend that are not mTLS from %s: %s", wantPrincipal, strings.Join(other, "; "))
	case mtls == 0:
		return fmt.Errorf("ztunnel on the backend's node opened no connection during the probe: is the backend enrolled (istio.io/dataplane-mode: ambient) and the scrape from its node?")
	}
	return nil
}
