package probe

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// IstioSidecarMetricsPort and IstioSidecarMetricsPath: where an Istio sidecar
// serves its own Envoy stats in Prometheus text (istio-proxy container,
// pod-local but bound on all addresses; UPSTREAM.md "Istio").
const (
	IstioSidecarMetricsPort = 15090
	IstioSidecarMetricsPath = "/stats/prometheus"
	IstioRequestsTotal      = "istio_requests_total"
	MutualTLS               = "mutual_tls"
)

// IstioRequests is one istio_requests_total series: who called whom, with
// what outcome, over what connection security.
type IstioRequests struct {
	Reporter                 string // "destination" on the server's sidecar, "source" on the client's
	SourceWorkload           string
	SourceNamespace          string
	SourcePrincipal          string
	DestinationWorkload      string
	DestinationNamespace     string
	DestinationPrincipal     string
	DestinationService       string
	ResponseCode             string
	ResponseFlags            string
	ConnectionSecurityPolicy string // "mutual_tls", "none" or "unknown"
	Count                    float64
}

// SidecarMetrics is one scrape of a sidecar's Prometheus endpoint.
type SidecarMetrics struct {
	Families map[string]*dto.MetricFamily
}

// ParseSidecarMetrics parses Prometheus text exposition as an Istio sidecar
// serves it on :15090/stats/prometheus.
func ParseSidecarMetrics(r io.Reader) (*SidecarMetrics, error) {
	// Envoy's stat names are legacy Prometheus names; UTF-8 validation
	// accepts those and anything a newer Envoy may add.
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("sidecar metrics are not Prometheus text format: %w", err)
	}
	return &SidecarMetrics{Families: fams}, nil
}

// FetchSidecarMetrics scrapes url (for example a port-forward to the pod's
// 15090 and IstioSidecarMetricsPath).
func FetchSidecarMetrics(ctx context.Context, client *http.Client, url string) (*SidecarMetrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("sidecar metrics request %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape sidecar metrics at %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		return nil, fmt.Errorf("scrape sidecar metrics at %s: %s %q; is it the istio-proxy's port %d?", url, resp.Status, body, IstioSidecarMetricsPort)
	}
	m, err := ParseSidecarMetrics(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return m, nil
}

// IstioRequests returns every istio_requests_total series, sorted for stable
// reports. A sidecar that has served no HTTP request yet has none.
func (m *SidecarMetrics) IstioRequests() []IstioRequests {
	fam := m.Families[IstioRequestsTotal]
	if fam == nil {
		return nil
	}
	out := make([]IstioRequests, 0, len(fam.GetMetric()))
	for _, metric := range fam.GetMetric() {
		l := labelMap(metric)
		out = append(out, IstioRequests{
			Reporter:                 l["reporter"],
			SourceWorkload:           l["source_workload"],
			SourceNamespace:          l["source_workload_namespace"],
			SourcePrincipal:          l["source_principal"],
			DestinationWorkload:      l["destination_workload"],
			DestinationNamespace:     l["destination_workload_namespace"],
			DestinationPrincipal:     l["destination_principal"],
			DestinationService:       l["destination_service"],
			ResponseCode:             l["response_code"],
			ResponseFlags:            l["response_flags"],
			ConnectionSecurityPolicy: l["connection_security_policy"],
			Count:                    sampleValue(metric),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

func (r IstioRequests) key() string {
	return strings.Join([]string{r.Reporter, r.SourcePrincipal, r.DestinationService, r.ResponseCode,
		r.ConnectionSecurityPolicy, r.ResponseFlags}, "\x00")
}

// A RequestFilter selects istio_requests_total series; empty fields match all.
type RequestFilter struct {
	Reporter           string
	DestinationService string
	SourcePrincipal    string
}

func (f RequestFilter) match(r IstioRequests) bool {
	return (f.Reporter == "" || f.Reporter == r.Reporter) &&
		(f.DestinationService == "" || f.DestinationService == r.DestinationService) &&
		(f.SourcePrincipal == "" || f.SourcePrincipal == r.SourcePrincipal)
}

// RequestsBySecurityPolicy sums the matching series per
// connection_security_policy value.
func (m *SidecarMetrics) RequestsBySecurityPolicy(f RequestFilter) map[string]float64 {
	out := map[string]float64{}
	for _, r := range m.IstioRequests() {
		if f.match(r) {
			out[r.ConnectionSecurityPolicy] += r.Count
		}
	}
	return out
}

// SecurityPolicyDelta is after minus before, per policy: what a probe's
// requests added. Series absent before count from zero (a new series).
func SecurityPolicyDelta(before, after *SidecarMetrics, f RequestFilter) map[string]float64 {
	b := before.RequestsBySecurityPolicy(f)
	out := map[string]float64{}
	for policy, n := range after.RequestsBySecurityPolicy(f) {
		if d := n - b[policy]; d != 0 {
			out[policy] = d
		}
	}
	return out
}

// CounterSum sums a counter (or untyped) family over series whose labels
// include every pair in match, for example envoy_listener_ssl_handshake.
func (m *SidecarMetrics) CounterSum(name string, match map[string]string) (float64, bool) {
	fam := m.Families[name]
	if fam == nil {
		return 0, false
	}
	var sum float64
	found := false
	for _, metric := range fam.GetMetric() {
		l := labelMap(metric)
		ok := true
		for k, v := range match {
			if l[k] != v {
				ok = false
				break
			}
		}
		if ok {
			sum += sampleValue(metric)
			found = true
		}
	}
	return sum, found
}

func labelMap(m *dto.Metric) map[string]string {
	l := make(map[string]string, len(m.GetLabel()))
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

func sampleValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}
