package probe

import (
	"reflect"
	"strings"
	"testing"
)

// An Istio sidecar's /stats, listener part, before and after one plaintext
// request, as printed in Solo.io's public "Istio in Action" workshop lab 06
// (istio-proxy `curl localhost:15000/stats | grep listener.0.0.0.0`).
const statsIstioBefore = `listener.0.0.0.0_15006.downstream_cx_active: 0
listener.0.0.0.0_15006.downstream_cx_destroy: 0
listener.0.0.0.0_15006.downstream_cx_overflow: 0
listener.0.0.0.0_15006.downstream_cx_total: 0
listener.0.0.0.0_15006.http.inbound_0.0.0.0_8080.downstream_rq_1xx: 0
listener.0.0.0.0_15006.http.inbound_0.0.0.0_8080.downstream_rq_2xx: 0
listener.0.0.0.0_15006.http.inbound_0.0.0.0_8080.downstream_rq_completed: 0
listener.0.0.0.0_15006.no_filter_chain_match: 0
listener.0.0.0.0_15006.server_ssl_socket_factory.ssl_context_update_by_sds: 6
listener.0.0.0.0_15006.ssl.connection_error: 0
listener.0.0.0.0_15006.ssl.fail_verify_cert_hash: 0
listener.0.0.0.0_15006.ssl.fail_verify_error: 0
listener.0.0.0.0_15006.ssl.fail_verify_no_cert: 0
listener.0.0.0.0_15006.ssl.fail_verify_san: 0
listener.0.0.0.0_15006.ssl.handshake: 0
listener.0.0.0.0_15006.ssl.no_certificate: 0
listener.0.0.0.0_15006.ssl.session_reused: 0
tls_inspector.tls_found: 0
tls_inspector.tls_not_found: 0
`

const statsIstioAfter = `listener.0.0.0.0_15006.downstream_cx_active: 0
listener.0.0.0.0_15006.downstream_cx_destroy: 1
listener.0.0.0.0_15006.downstream_cx_total: 1
listener.0.0.0.0_15006.http.inbound_0.0.0.0_8080.downstream_rq_completed: 1
listener.0.0.0.0_15006.ssl.handshake: 0
tls_inspector.tls_found: 0
tls_inspector.tls_not_found: 2
`

// Lines as Envoy renders them: the cluster ssl lines from a public Istio mTLS
// troubleshooting guide (`pilot-agent request GET stats | grep ssl`); the bucket
// line and "No recorded values" from envoyproxy/envoy
// test/server/admin/stats_handler_test.cc; the quantile summary from Envoy's
// front-proxy sandbox docs (admin /stats output); the quoted text readout's
// form from source/server/admin/stats_render.cc (StatsTextRender::generate).
const statsEnvoyMixed = `cluster.outbound|8080||api-server.backend.svc.cluster.local.ssl.handshake: 42
cluster.outbound|8080||api-server.backend.svc.cluster.local.ssl.connection_error: 0
h1: B0.5(0,0) B1(0,0) B5(0,0) B10(0,0) B25(0,0) B50(0,0) B100(0,0) B250(0,1) B500(1,2) B1000(0,0) B2500(0,0) B5000(0,0) B10000(0,0) B30000(0,0) B60000(0,0) B300000(0,0) B600000(0,0) B1.8e+06(0,0) B3.6e+06(0,0)
h2: No recorded values
http.ingress_http.downstream_cx_length_ms: P0(nan,2.0) P25(nan,2.075) P50(nan,3.05) P75(nan,17.25) P90(nan,17.7) P95(nan,17.85) P99(nan,17.97) P99.5(nan,17.985) P99.9(nan,17.997) P100(nan,18.0)
server.version_text: "1.34.1"
`

func TestParseStatsRealSamples(t *testing.T) {
	st, err := ParseStats([]byte(statsEnvoyMixed))
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Values["cluster.outbound|8080||api-server.backend.svc.cluster.local.ssl.handshake"]; got != 42 {
		t.Errorf("outbound ssl.handshake = %d, want 42", got)
	}
	if len(st.Histograms) != 3 {
		t.Errorf("histograms %v, want h1, h2 and downstream_cx_length_ms", st.Histograms)
	}
	if st.Text["server.version_text"] != "1.34.1" {
		t.Errorf("text readouts %v", st.Text)
	}
	if len(st.Values) != 2 {
		t.Errorf("values %v, want only the two counters", st.Values)
	}
}

func TestDeltasPlaintextRequest(t *testing.T) {
	before, err := ParseStats([]byte(statsIstioBefore))
	if err != nil {
		t.Fatal(err)
	}
	after, err := ParseStats([]byte(statsIstioAfter))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		filter StatFilter
		want   map[string]int64
	}{
		{"handshakes did not move", StatFilter{Contains: []string{"listener."}, Suffix: ".ssl.handshake"},
			map[string]int64{"listener.0.0.0.0_15006.ssl.handshake": 0}},
		{"plaintext seen by tls_inspector", StatFilter{Suffix: "tls_not_found"},
			map[string]int64{"tls_inspector.tls_not_found": 2}},
		{"one connection", StatFilter{Contains: []string{"15006"}, Suffix: "downstream_cx_total"},
			map[string]int64{"listener.0.0.0.0_15006.downstream_cx_total": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]int64{}
			for _, d := range Deltas(before, after, tc.filter) {
				got[d.Name] = d.Delta
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("deltas %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDeltasNewAndRestarted(t *testing.T) {
	before := Stats{Values: map[string]uint64{"a.ssl.handshake": 10}}
	after := Stats{Values: map[string]uint64{"a.ssl.handshake": 3, "b.ssl.handshake": 5}}
	ds := Deltas(before, after, StatFilter{Suffix: "ssl.handshake"})
	want := []StatDelta{{"a.ssl.handshake", 10, 3, -7}, {"b.ssl.handshake", 0, 5, 5}}
	if !reflect.DeepEqual(ds, want) {
		t.Errorf("got %+v, want %+v", ds, want)
	}
	if SumDelta(ds) != -2 {
		t.Errorf("sum %d", SumDelta(ds))
	}
}

func TestParseStatsRejects(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<html><body>Envoy Admin</body></html>", "line 1"},
		{`{"stats":[{"name":"a","value":1}]}`, "line 1"},
		{"a.b: 1\nc.d: -1\n", "line 2: c.d has value \"-1\""},
		{"a.b: 12x\n", "want a non-negative integer"},
		{"a b: 1\n", "want \"name: value\""},
	}
	for _, tc := range tests {
		_, err := ParseStats([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseStats(%q) err = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func FuzzParseStats(f *testing.F) {
	for _, s := range []string{statsIstioBefore, statsIstioAfter, statsEnvoyMixed, "a: ", ": 1", "a: \"", "P0("} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseStats(b)
		if err != nil {
			return
		}
		ds := Deltas(st, st, StatFilter{})
		for _, d := range ds {
			if d.Delta != 0 {
				t.Fatalf("a dump diffed with itself moved: %+v", d)
			}
		}
	})
}
