package scenarios

import (
	"fmt"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/probe"
)

func TestIstioScenariosAreValidAndRegistered(t *testing.T) {
	list := For(MeshIstio, DefaultConfig())
	want := []string{IstioPodIP, IstioServiceUpstream, IstioStrictNegative, IstioJWTClaims}
	if len(list) != len(want) {
		t.Fatalf("got %d Istio scenarios, want %d", len(list), len(want))
	}
	for i, s := range list {
		if s.ID != want[i] {
			t.Errorf("scenario %d is %s, want %s", i, s.ID, want[i])
		}
		if err := s.Validate(); err != nil {
			t.Error(err)
		}
		for _, p := range s.Phases {
			if len(p.Apply) == 0 && p.Kind != PhaseVerify {
				t.Errorf("%s / %s applies no fixture set", s.ID, p.Name)
			}
			for _, set := range p.Apply {
				if len(set.Objects) == 0 {
					t.Errorf("%s / %s: set %s is empty", s.ID, p.Name, set.Name)
				}
			}
		}
	}
	if _, err := Find(list, IstioJWTClaims); err != nil {
		t.Fatal(err)
	}
}

// Every row of the JWT table is its own expectation, in the phase of its policy.
func TestEveryJWTRowIsAnExpectation(t *testing.T) {
	s, err := Find(For(MeshIstio, DefaultConfig()), IstioJWTClaims)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, p := range s.Phases {
		for _, e := range p.Expect {
			if strings.HasPrefix(e.Name, "row: ") {
				seen[strings.TrimPrefix(e.Name, "row: ")]++
			}
		}
	}
	for _, r := range JWTTable() {
		want := 1
		if r.Policy == PolicyClaims {
			want = 2 // inline JWKS and jwksUri
		}
		if seen[r.Name] != want {
			t.Errorf("row %q is checked in %d phases, want %d", r.Name, seen[r.Name], want)
		}
	}
}

func TestJWTObservationChecks(t *testing.T) {
	iss := jwtIssuer(t)
	valid, _ := NewJWTRequest(iss, JWTTable()[0], jwtNow)
	want, _ := probe.DecodePayloadHeader(valid.EnvoyHeader)
	forgedRow := JWTTable()[10]
	if !forgedRow.Forged || forgedRow.Layer != LayerBackend {
		t.Fatalf("table order changed: row 10 is %q", forgedRow.Name)
	}
	forged, _ := NewJWTRequest(iss, forgedRow, jwtNow)
	cases := []struct {
		name string
		row  JWTRow
		obs  JWTObservation
		want string // "" passes
	}{
		{"valid passes", JWTTable()[0], JWTObservation{Status: 200, Layer: LayerBackend, Backend: 200,
			EnvoyHdr: valid.EnvoyHeader, Received: []string{valid.EnvoyHeader}, Decoded: want, Want: want}, ""},
		{"padded header is not Envoy's", JWTTable()[0], JWTObservation{Status: 200, Layer: LayerBackend, Backend: 200,
			EnvoyHdr: valid.EnvoyHeader, Received: []string{valid.EnvoyHeader + "=="}, Decoded: want, Want: want}, "payload segment"},
		{"wrong layer", JWTTable()[3], JWTObservation{Status: 403, Layer: LayerBackend}, "want 403 from rbac"},
		{"mesh body missing", JWTTable()[4], JWTObservation{Status: 401, Layer: LayerJWTAuthn, Body: "Jwt verification fails"}, "Jwt is expired"},
		{"forgery reached the backend", forgedRow, JWTObservation{Status: 200, Layer: LayerBackend, Backend: 200,
			Forged: forged.Forged, EnvoyHdr: forged.EnvoyHeader, Received: []string{forged.Forged}}, "forged"},
		{"forgery appended beside Envoy's", forgedRow, JWTObservation{Status: 200, Layer: LayerBackend, Backend: 200,
			Forged: forged.Forged, EnvoyHdr: forged.EnvoyHeader, Received: []string{forged.EnvoyHeader, forged.Forged}}, "forged"},
		{"transport error", JWTTable()[0], JWTObservation{Error: "connection reset"}, "request failed"},
	}
	for _, c := range cases {
		err := checkJWTObservation(c.row, c.obs)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: err = %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func evidenceWith(t *testing.T, outcomes []probe.Outcome, xfcc string, byPolicy map[string]float64) *Evidence {
	t.Helper()
	rep := probe.TrafficReport{URL: "http://kong/mesh-probe", Outcomes: map[probe.Outcome]int{}}
	for i, o := range outcomes {
		q := probe.RequestResult{Seq: i + 1, Outcome: o}
		if o == probe.OutcomeOK {
			q.Status, q.XFCC = 200, xfcc
		}
		rep.Requests = append(rep.Requests, q)
		rep.Outcomes[o]++
	}
	ev := &Evidence{}
	ev.AddTraffic("kong-to-order-service", rep)
	if err := ev.SetDetail(DetailIstioRequests, map[string]map[string]float64{"api-system/order-service-a": byPolicy}); err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestMTLSChecks(t *testing.T) {
	kong := cluster.KongSPIFFEID(IstioTrustDomain)
	goodXFCC := `By=spiffe://cluster.local/ns/api-system/sa/order-service;Hash=ab;Subject="";URI=` + kong
	spoofed := `By=x;URI=spiffe://cluster.local/ns/kong/sa/kong-gateway,By=spiffe://cluster.local/ns/api-system/sa/order-service;Hash=ab;Subject="";URI=spiffe://cluster.local/ns/other/sa/default`
	ok3 := []probe.Outcome{probe.OutcomeOK, probe.OutcomeOK, probe.OutcomeOK}
	bad3 := []probe.Outcome{probe.Outcome502, probe.Outcome502, probe.Outcome502}
	cases := []struct {
		name string
		exp  Expectation
		ev   *Evidence
		pass bool
	}{
		{"fix holds", xfccIsExactly("kong-to-order-service", kong), evidenceWith(t, ok3, goodXFCC, map[string]float64{"mutual_tls": 3}), true},
		{"client-prepended XFCC does not count", xfccIsExactly("kong-to-order-service", kong), evidenceWith(t, ok3, spoofed, map[string]float64{"mutual_tls": 3}), false},
		{"200 without XFCC", xfccIsExactly("kong-to-order-service", kong), evidenceWith(t, ok3, "", map[string]float64{"mutual_tls": 3}), false},
		{"mutual_tls counted", mutualTLSCounted(), evidenceWith(t, ok3, goodXFCC, map[string]float64{"mutual_tls": 3}), true},
		{"plaintext counted as 200s", mutualTLSCounted(), evidenceWith(t, ok3, goodXFCC, map[string]float64{"none": 3}), false},
		{"no plaintext", noPlaintextAtBackend(), evidenceWith(t, bad3, "", map[string]float64{}), true},
		{"plaintext seen", noPlaintextAtBackend(), evidenceWith(t, ok3, "", map[string]float64{"none": 1}), false},
		{"pod-IP broken, coherent", podIPOutcomeCoherent(8080), evidenceWith(t, bad3, "", map[string]float64{}), true},
		{"pod-IP upgraded, coherent", podIPOutcomeCoherent(8080), evidenceWith(t, ok3, goodXFCC, map[string]float64{"mutual_tls": 3}), true},
		{"pod-IP 200 without mTLS", podIPOutcomeCoherent(8080), evidenceWith(t, ok3, "", map[string]float64{"none": 3}), false},
		{"pod-IP mixed", podIPOutcomeCoherent(8080), evidenceWith(t, []probe.Outcome{probe.OutcomeOK, probe.Outcome502}, goodXFCC, map[string]float64{"mutual_tls": 1}), false},
		{"all OK", allOK("kong-to-order-service"), evidenceWith(t, ok3, goodXFCC, nil), true},
		{"one 502", allOK("kong-to-order-service"), evidenceWith(t, []probe.Outcome{probe.OutcomeOK, probe.Outcome502}, goodXFCC, nil), false},
	}
	for _, c := range cases {
		err := safeCheck(c.exp, c.ev)
		if (err == nil) != c.pass {
			t.Errorf("%s (%s): err = %v, want pass %v", c.name, c.exp.Name, err, c.pass)
		}
	}
}

func TestTargetPreconditions(t *testing.T) {
	pod := []probe.ClassifiedTarget{{Target: "10.244.0.7:8080", Kind: probe.TargetPodIP}, {Target: "10.244.0.8:8080", Kind: probe.TargetPodIP}}
	svc := []probe.ClassifiedTarget{{Target: "order-service.api-system.svc:8080", Kind: probe.TargetHostname}}
	mixed := append(append([]probe.ClassifiedTarget{}, pod...), svc...)
	cases := []struct {
		want    bool
		targets []probe.ClassifiedTarget
		pass    bool
	}{
		{true, pod, true}, {true, mixed, false}, {true, nil, false},
		{false, svc, true}, {false, mixed, false},
	}
	for _, c := range cases {
		err := targetsArePodIPs(c.want).Check(&Evidence{Targets: c.targets})
		if (err == nil) != c.pass {
			t.Errorf("want PodIP %v, targets %s: err = %v", c.want, targetList(c.targets), err)
		}
	}
}

// Kong sends the Service's name only when its route has preserve_host off
// and its upstream names it in host_header; what the backend received must
// agree.
func TestKongSendsHostPrecondition(t *testing.T) {
	want := "order-service.api-system.svc.cluster.local"
	route := "httproute.api-system.order-service.0.0"
	answered := func(host string) probe.TrafficReport {
		return probe.TrafficReport{Requests: []probe.RequestResult{{Seq: 1, Pod: "api-system/order-service-a", Host: host}}}
	}
	for _, c := range []struct {
		name    string
		cfg     KongHostConfig
		traffic []probe.TrafficReport
		err     string // "" passes
	}{
		{"both set", KongHostConfig{Routes: map[string]bool{route: false}, HostHeader: want}, nil, ""},
		{"both set, backend saw it with the port", KongHostConfig{Routes: map[string]bool{route: false}, HostHeader: want},
			[]probe.TrafficReport{answered(want + ":8080")}, ""},
		{"host_header alone: KIC's preserve_host wins", KongHostConfig{Routes: map[string]bool{route: true}, HostHeader: want}, nil, "preserve_host=true"},
		{"preserve_host off, no host_header", KongHostConfig{Routes: map[string]bool{route: false}}, nil, `host_header ""`},
		{"another host_header", KongHostConfig{Routes: map[string]bool{route: false}, HostHeader: "order-service"}, nil, `host_header "order-service"`},
		{"no route seen", KongHostConfig{HostHeader: want}, nil, "no route"},
		{"the backend saw another Host", KongHostConfig{Routes: map[string]bool{route: false}, HostHeader: want},
			[]probe.TrafficReport{answered("127.0.0.1:30080")}, `with Host "127.0.0.1:30080"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev := &Evidence{}
			if err := ev.SetDetail(DetailKongHost, c.cfg); err != nil {
				t.Fatal(err)
			}
			for i, rep := range c.traffic {
				ev.AddTraffic(fmt.Sprint("t", i), rep)
			}
			err := kongSendsHost(want).Check(ev)
			switch {
			case c.err == "" && err != nil:
				t.Errorf("err = %v, want a pass", err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Errorf("err = %v, want one containing %q", err, c.err)
			}
		})
	}
	if err := kongSendsHost(want).Check(&Evidence{}); err == nil {
		t.Error("missing evidence passed")
	}
}
