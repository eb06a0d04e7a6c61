package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meshgate/meshgate/fixtures"
	istiofx "github.com/meshgate/meshgate/fixtures/istio"
	"github.com/meshgate/meshgate/fixtures/kong"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/probe"
)

// fakeIstio is Kong + two order-service pods with sidecars, enough to run
// the Istio mTLS scenarios' probes end to end: Kong's admin API (routes with
// preserve_host, upstreams with host_header, targets), the proxy (echo JSON
// with XFCC and the Host received), and each sidecar's /stats and :15090
// Prometheus text, whose counters move with the traffic. Kong's Host is
// kong.SendsHost of the applied HTTPRoute and Service; Kong's sidecar routes
// by it, and a Host Istio does not know goes out in plaintext, which STRICT
// resets (Kong answers 502).
type fakeIstio struct {
	t         *testing.T
	c         client.Client
	mu        sync.Mutex
	requests  int               // answered through the proxy
	routeAnn  map[string]string // the applied HTTPRoute's annotations
	xfccURI   string            // the URI order-service's sidecar puts in XFCC
	plaintext bool              // a sidecar that lets plaintext through, counted as connection_security_policy="none"
	l4Only    bool              // ambient: ztunnel carries any Host, no sidecar routes by it
	status    int               // forces the proxy's answer when not 200
	// noPreserveHost applies the HTTPRoute without konghq.com/preserve-host,
	// as the fixtures did before: KIC then keeps preserve_host=true.
	noPreserveHost bool
}

const fakeSvcIP = "10.96.0.50"

var fakePods = []struct{ name, ip string }{{"order-service-a", "10.244.0.7"}, {"order-service-b", "10.244.0.8"}}

func newFakeIstio(t *testing.T) *fakeIstio {
	objs := []client.Object{&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "order-service", Namespace: "api-system"},
		Spec:       corev1.ServiceSpec{ClusterIP: fakeSvcIP, ClusterIPs: []string{fakeSvcIP}},
	}}
	for _, p := range fakePods {
		objs = append(objs, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: "api-system", Labels: map[string]string{"app": "order-service"}},
			Status:     corev1.PodStatus{PodIP: p.ip, Phase: corev1.PodRunning},
		})
	}
	return &fakeIstio{t: t, c: fake.NewClientBuilder().WithScheme(fixtures.Scheme()).WithObjects(objs...).Build(),
		xfccURI: cluster.KongSPIFFEID(IstioTrustDomain), status: 200}
}

// Apply sets the Service's and the HTTPRoute's annotations as the variant
// renders them.
func (f *fakeIstio) Apply(ctx context.Context, set fixtures.Set) error {
	for _, o := range set.Objects {
		if r, ok := o.(*gwv1.HTTPRoute); ok && r.Name == "order-service" {
			f.mu.Lock()
			f.routeAnn = maps.Clone(r.Annotations)
			if f.noPreserveHost {
				delete(f.routeAnn, kong.PreserveHostAnnotation)
			}
			f.mu.Unlock()
		}
		if s, ok := o.(*corev1.Service); ok && s.Name == "order-service" {
			var cur corev1.Service
			if err := f.c.Get(ctx, client.ObjectKeyFromObject(s), &cur); err != nil {
				return err
			}
			cur.Annotations = s.Annotations
			if err := f.c.Update(ctx, &cur); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *fakeIstio) serviceAnnotations() map[string]string {
	var s corev1.Service
	_ = f.c.Get(context.Background(), client.ObjectKey{Namespace: "api-system", Name: "order-service"}, &s)
	return s.Annotations
}

func (f *fakeIstio) serviceUpstream() bool {
	return f.serviceAnnotations()[istiofx.AnnotationServiceUpstr] == "true"
}

// Get is Kong's admin API.
func (f *fakeIstio) Get(_ context.Context, path string) ([]byte, error) {
	switch path {
	case "/routes":
		f.mu.Lock()
		preserve := kong.PreservesHost(f.routeAnn)
		f.mu.Unlock()
		return fmt.Appendf(nil, `{"data":[{"id":"r1","name":"httproute.api-system.order-service.0.0","preserve_host":%v}],"next":null}`, preserve), nil
	case "/upstreams":
		hh := "null"
		if h := f.serviceAnnotations()[kong.HostHeaderAnnotation]; h != "" {
			hh = strconv.Quote(h)
		}
		return fmt.Appendf(nil, `{"data":[{"id":"u1","name":"order-service.api-system.8080.svc","host_header":%s}],"next":null}`, hh), nil
	case "/upstreams/u1/targets":
		if f.serviceUpstream() {
			return []byte(`{"data":[{"id":"t1","target":"order-service.api-system.svc:8080","weight":100}],"next":null}`), nil
		}
		return []byte(`{"data":[{"id":"t1","target":"10.244.0.7:8080","weight":100},{"id":"t2","target":"10.244.0.8:8080","weight":100}],"next":null}`), nil
	}
	return nil, fmt.Errorf("fake kong admin: no %s", path)
}

// istioKnows reports whether an Istio sidecar in another namespace has a
// virtual host for host (port ignored): the Service's FQDN, <svc>.<ns>.svc
// or <svc>.<ns> (istio/istio pilot/pkg/networking/core/httproute.go).
func istioKnows(host string) bool {
	switch hostOnly(host) {
	case "order-service.api-system.svc.cluster.local", "order-service.api-system.svc", "order-service.api-system":
		return true
	}
	return false
}

func (f *fakeIstio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := "10.244.0.7:8080"
	if f.serviceUpstream() {
		target = "order-service.api-system.svc:8080"
	}
	f.mu.Lock()
	host := kong.SendsHost(f.routeAnn, f.serviceAnnotations(), r.Host, target)
	status := f.status
	if status == 200 && !istioKnows(host) && !f.plaintext && !f.l4Only {
		status = 502 // PassthroughCluster, plaintext: STRICT resets it
	}
	if status == 200 {
		f.requests++ // only answered requests reach the sidecar's counters
	}
	n := f.requests
	f.mu.Unlock()
	if status != 200 {
		http.Error(w, "An invalid response was received from the upstream server", status)
		return
	}
	pod := fakePods[n%2].name
	xfcc := `By=spiffe://cluster.local/ns/api-system/sa/order-service;Hash=ab12;Subject="";URI=` + f.xfccURI
	_ = json.NewEncoder(w).Encode(map[string]any{"method": "GET", "path": r.URL.Path, "host": host, "podName": pod, "podNamespace": "api-system",
		"headers": map[string][]string{"X-Forwarded-Client-Cert": {xfcc}}, "status": 200})
}

// Admin is the sidecars' admin: counters grow with the answered requests.
func (f *fakeIstio) Admin(_ context.Context, namespace, pod string) (probe.AdminGetter, error) {
	return sidecarGetter{f: f}, nil
}

type sidecarGetter struct{ f *fakeIstio }

func (g sidecarGetter) Get(_ context.Context, path string) ([]byte, error) {
	g.f.mu.Lock()
	n := g.f.requests / 2 // each pod answered about half
	policy := probe.MutualTLS
	if g.f.plaintext {
		policy = "none"
	}
	g.f.mu.Unlock()
	switch path {
	case "/stats":
		return []byte(fmt.Sprintf("listener.0.0.0.0_15006.ssl.handshake: %d\nlistener.0.0.0.0_15006.downstream_cx_total: %d\n", n, n)), nil
	case probe.IstioSidecarMetricsPath:
		return []byte(fmt.Sprintf("# TYPE istio_requests_total counter\n"+
			`istio_requests_total{reporter="destination",source_principal="spiffe://cluster.local/ns/kong/sa/kong-gateway",destination_service="order-service.api-system.svc.cluster.local",response_code="200",connection_security_policy="%s"} %d`+"\n", policy, n)), nil
	}
	return nil, fmt.Errorf("fake sidecar: no %s", path)
}

func runServiceUpstream(t *testing.T, tweak func(*fakeIstio)) []PhaseResult {
	return runIstioScenario(t, tweak, (*istioRun).serviceUpstream)
}

func runIstioScenario(t *testing.T, tweak func(*fakeIstio), build func(*istioRun) Scenario) []PhaseResult {
	t.Helper()
	f := newFakeIstio(t)
	if tweak != nil {
		tweak(f)
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	r := newIstioRun(DefaultConfig())
	timeouts := DefaultTimeouts()
	timeouts.Converge, timeouts.Poll, timeouts.Requests, timeouts.StatsSettled = 300*time.Millisecond, 5*time.Millisecond, 10, 0
	rt := &Runtime{Client: f.c, Applier: f, Kong: Kong{ProxyURL: srv.URL, Admin: f}, Sidecars: f,
		HTTP: srv.Client(), Echo: probe.DecodeEchoJSON, Timeouts: timeouts}
	var out []PhaseResult
	for _, p := range build(r).Phases {
		out = append(out, RunPhase(context.Background(), rt, p))
	}
	return out
}

func TestServiceUpstreamScenarioAgainstAFake(t *testing.T) {
	prs := runServiceUpstream(t, nil)
	if f := failedChecks(prs); len(f) > 0 {
		t.Fatalf("the fixed topology fails checks:\n%s", strings.Join(f, "\n"))
	}
	ev := prs[1].Evidence
	if len(ev.XFCC) != 1 || ev.XFCC[0].SPIFFE[0] != cluster.KongSPIFFEID(IstioTrustDomain) {
		t.Errorf("XFCC evidence %+v", ev.XFCC)
	}
	if handshakeSum(&ev) <= 0 {
		t.Errorf("ssl.handshake deltas %v did not move", ev.StatDeltas)
	}
}

func TestServiceUpstreamScenarioCatchesWrongEvidence(t *testing.T) {
	cases := []struct {
		name  string
		tweak func(*fakeIstio)
		want  string
	}{
		{"another identity in XFCC", func(f *fakeIstio) { f.xfccURI = "spiffe://cluster.local/ns/default/sa/default" }, "XFCC URI is exactly"},
		{"plaintext at the backend", func(f *fakeIstio) { f.plaintext = true }, "in plaintext"},
		{"Kong answers 502", func(f *fakeIstio) { f.status = 502 }, "every request through Kong answers 200"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			failed := strings.Join(failedChecks(runServiceUpstream(t, c.tweak)), "\n")
			if !strings.Contains(failed, c.want) {
				t.Errorf("want a failed check containing %q; failed:\n%s", c.want, failed)
			}
		})
	}
}

// With host-header alone (the fixtures before preserve-host), a Kong that
// behaves as KIC 3.5 and Kong 3.9 do keeps the client's Host: the fix's
// precondition must say so, and the Pod-IP Host phase must not measure.
func TestHostHeaderAloneFailsThePreconditions(t *testing.T) {
	alone := func(f *fakeIstio) { f.noPreserveHost = true }
	for _, c := range []struct {
		name  string
		build func(*istioRun) Scenario
		phase int
	}{
		{"service-upstream fix", (*istioRun).serviceUpstream, 0},
		{"Pod IPs with the Service's Host", (*istioRun).podIP, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			pr := runIstioScenario(t, alone, c.build)[c.phase]
			if pr.Verdict != Failed || !strings.Contains(pr.Reason, "precondition not met") || !strings.Contains(pr.Reason, "preserve_host=true") {
				t.Errorf("%s: %s %q, want a failed precondition naming preserve_host=true", pr.Name, pr.Verdict, pr.Reason)
			}
		})
	}
}

func TestPodIPScenarioAgainstAFake(t *testing.T) {
	// Kong answers 502 and order-service counts nothing: Istio as documented.
	prs := runIstioScenario(t, func(f *fakeIstio) { f.status = 502 }, (*istioRun).podIP)
	if f := failedChecks(prs); len(f) > 0 {
		t.Fatalf("a documented Pod-IP failure fails checks:\n%s", strings.Join(f, "\n"))
	}
	if fs := prs[0].Findings(); len(fs) == 0 || !strings.Contains(strings.Join(fs, " "), "as Istio documents") {
		t.Errorf("findings %v", fs)
	}
	// 200 from Kong while the backend saw plaintext: a contradiction.
	failed := strings.Join(failedChecks(runIstioScenario(t, func(f *fakeIstio) { f.plaintext = true }, (*istioRun).podIP)), "\n")
	for _, w := range []string{"in plaintext", "tell one story"} {
		if !strings.Contains(failed, w) {
			t.Errorf("want a failed check containing %q; failed:\n%s", w, failed)
		}
	}
}

// fakeStrict is order-service's sidecar seen from the outside client: reset
// under STRICT, 200 (counted as plaintext) under PERMISSIVE.
type fakeStrict struct {
	*fakeIstio
	mode           string
	plainSeen      int
	ignoreMTLSMode bool // a sidecar that lets plaintext through under STRICT
}

func (f *fakeStrict) Apply(ctx context.Context, set fixtures.Set) error {
	for _, o := range set.Objects {
		if u, ok := o.(*unstructured.Unstructured); ok && u.GetKind() == "PeerAuthentication" && u.GetName() == "default" {
			f.mu.Lock()
			f.mode, _, _ = unstructured.NestedString(u.Object, "spec", "mtls", "mode")
			f.mu.Unlock()
		}
	}
	return f.fakeIstio.Apply(ctx, set)
}

func (f *fakeStrict) Get(_ context.Context, url string, _ time.Duration) probe.RequestResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mode == "STRICT" && !f.ignoreMTLSMode {
		return probe.RequestResult{Outcome: probe.OutcomeReset, Error: "read: connection reset by peer"}
	}
	f.plainSeen++
	return probe.RequestResult{Status: 200, Outcome: probe.OutcomeOK}
}

func (f *fakeStrict) Admin(_ context.Context, _, pod string) (probe.AdminGetter, error) {
	return strictSidecar{f, pod == fakePods[0].name}, nil
}

// strictSidecar: the first pod's sidecar sees every plaintext request.
type strictSidecar struct {
	f     *fakeStrict
	first bool
}

func (s strictSidecar) Get(_ context.Context, path string) ([]byte, error) {
	s.f.mu.Lock()
	n := s.f.plainSeen
	s.f.mu.Unlock()
	if !s.first {
		n = 0
	}
	if path != probe.IstioSidecarMetricsPath {
		return []byte("listener.0.0.0.0_15006.ssl.handshake: 0\n"), nil
	}
	return []byte(fmt.Sprintf(`istio_requests_total{reporter="destination",destination_service="order-service.api-system.svc.cluster.local",connection_security_policy="none"} %d`+"\n", n)), nil
}

func runStrict(t *testing.T, ignore bool) []PhaseResult {
	t.Helper()
	f := &fakeStrict{fakeIstio: newFakeIstio(t), ignoreMTLSMode: ignore}
	r := newIstioRun(DefaultConfig())
	timeouts := DefaultTimeouts()
	timeouts.Converge, timeouts.Poll, timeouts.Requests = 300*time.Millisecond, 5*time.Millisecond, 20
	rt := &Runtime{Client: f.c, Applier: f, Sidecars: f, Plaintext: f, Timeouts: timeouts}
	var out []PhaseResult
	for _, p := range r.strictNegative().Phases {
		out = append(out, RunPhase(context.Background(), rt, p))
	}
	return out
}

func TestStrictNegativeScenarioAgainstAFake(t *testing.T) {
	if f := failedChecks(runStrict(t, false)); len(f) > 0 {
		t.Fatalf("STRICT reset and PERMISSIVE pass fail checks:\n%s", strings.Join(f, "\n"))
	}
	failed := strings.Join(failedChecks(runStrict(t, true)), "\n")
	if !strings.Contains(failed, "every plaintext request: reset") {
		t.Errorf("a sidecar letting plaintext through under STRICT passed; failed:\n%s", failed)
	}
}
