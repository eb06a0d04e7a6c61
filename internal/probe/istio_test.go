package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// testdata/istio_sidecar_15090.prom follows, label for label and in order, a
// sidecar's `curl localhost:15000/stats/prometheus | grep istio_requests_total`
// output published from an Istio 1.17 "Istio in Action" exercise (reporter,
// source_*, destination_*, request_protocol, response_code,
// grpc_response_status, response_flags, connection_security_policy), with
// meshgate's workload names.
func loadSample(t testing.TB) *SidecarMetrics {
	t.Helper()
	f, err := os.Open("testdata/istio_sidecar_15090.prom")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := ParseSidecarMetrics(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const orderSvc = "order-service.api-system.svc.cluster.local"

func TestIstioRequestsFromSidecarSample(t *testing.T) {
	m := loadSample(t)
	series := m.IstioRequests()
	if len(series) != 4 {
		t.Fatalf("got %d istio_requests_total series, want 4: %+v", len(series), series)
	}
	cases := []struct {
		name   string
		filter RequestFilter
		want   map[string]float64
	}{
		{"inbound to order-service", RequestFilter{Reporter: "destination", DestinationService: orderSvc},
			map[string]float64{"mutual_tls": 7, "none": 3}},
		{"from Kong's identity", RequestFilter{Reporter: "destination", SourcePrincipal: "spiffe://cluster.local/ns/kong/sa/kong-gateway"},
			map[string]float64{"mutual_tls": 7}},
		{"outbound reports unknown", RequestFilter{Reporter: "source"}, map[string]float64{"unknown": 1}},
		{"no match", RequestFilter{DestinationService: "nope"}, map[string]float64{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := m.RequestsBySecurityPolicy(c.filter)
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for k, v := range c.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
				}
			}
		})
	}
	first := series[0]
	if first.DestinationPrincipal == "" || first.ResponseCode == "" {
		t.Errorf("labels not mapped: %+v", first)
	}
}

func TestSecurityPolicyDeltaCountsOnlyNewRequests(t *testing.T) {
	before := loadSample(t)
	raw, _ := os.ReadFile("testdata/istio_sidecar_15090.prom")
	after, err := ParseSidecarMetrics(strings.NewReader(strings.Replace(string(raw),
		`connection_security_policy="mutual_tls"} 5`, `connection_security_policy="mutual_tls"} 15`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	d := SecurityPolicyDelta(before, after, RequestFilter{Reporter: "destination", DestinationService: orderSvc})
	if len(d) != 1 || d[MutualTLS] != 10 {
		t.Errorf("delta = %v, want {mutual_tls: 10}", d)
	}
}

func TestCounterSumSSLHandshake(t *testing.T) {
	m := loadSample(t)
	if n, ok := m.CounterSum("envoy_listener_ssl_handshake", map[string]string{"listener_address": "0.0.0.0_15006"}); !ok || n != 7 {
		t.Errorf("inbound ssl.handshake = %v, %v; want 7", n, ok)
	}
	if n, ok := m.CounterSum("envoy_listener_ssl_handshake", nil); !ok || n != 7 {
		t.Errorf("all listeners = %v, %v; want 7", n, ok)
	}
	if _, ok := m.CounterSum("envoy_listener_ssl_handshake_missing", nil); ok {
		t.Error("absent family reported as found")
	}
}

func TestParseSidecarMetricsRejectsGarbage(t *testing.T) {
	for _, in := range []string{
		`istio_requests_total{reporter="destination" 5`,
		"# TYPE x counter\nx{a=\"b\"} notanumber\n",
	} {
		if _, err := ParseSidecarMetrics(strings.NewReader(in)); err == nil {
			t.Errorf("accepted %q", in)
		}
	}
	m, err := ParseSidecarMetrics(strings.NewReader(""))
	if err != nil || len(m.IstioRequests()) != 0 {
		t.Errorf("empty scrape: %v, %v", m, err)
	}
}

func TestFetchSidecarMetrics(t *testing.T) {
	raw, _ := os.ReadFile("testdata/istio_sidecar_15090.prom")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != IstioSidecarMetricsPath {
			http.NotFound(w, r)
			return
		}
		w.Write(raw)
	}))
	defer srv.Close()
	m, err := FetchSidecarMetrics(context.Background(), srv.Client(), srv.URL+IstioSidecarMetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.IstioRequests()) != 4 {
		t.Errorf("fetched %d series, want 4", len(m.IstioRequests()))
	}
	_, err = FetchSidecarMetrics(context.Background(), srv.Client(), srv.URL+"/stats")
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("wrong path: err = %v, want a 404 naming the URL", err)
	}
}

func FuzzParseSidecarMetrics(f *testing.F) {
	raw, err := os.ReadFile("testdata/istio_sidecar_15090.prom")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(raw))
	f.Add(`istio_requests_total{connection_security_policy="mutual_tls"} 1`)
	f.Add("# TYPE istio_requests_total counter\nistio_requests_total 1e400\n")
	f.Fuzz(func(t *testing.T, in string) {
		m, err := ParseSidecarMetrics(strings.NewReader(in))
		if err != nil {
			return
		}
		var total float64
		for _, r := range m.IstioRequests() {
			total += r.Count
		}
		var byPolicy float64
		for _, n := range m.RequestsBySecurityPolicy(RequestFilter{}) {
			byPolicy += n
		}
		// Every series lands in exactly one policy bucket (NaN compares unequal to itself).
		if total == total && byPolicy != total {
			t.Fatalf("series sum %v != per-policy sum %v for %q", total, byPolicy, in)
		}
	})
}
