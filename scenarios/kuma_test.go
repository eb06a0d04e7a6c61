package scenarios

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/fixtures/apps/echo/echoserver"
	"github.com/meshgate/meshgate/fixtures/kuma"
	"github.com/meshgate/meshgate/internal/probe"
)

type recordApplier struct{ sets []string }

func (r *recordApplier) Apply(_ context.Context, s fixtures.Set) error {
	r.sets = append(r.sets, s.Name)
	return nil
}

type mapAdmin map[string]string

func (m mapAdmin) Get(_ context.Context, path string) ([]byte, error) {
	if b, ok := m[path]; ok {
		return []byte(b), nil
	}
	return nil, fmt.Errorf("404 %s", path)
}

// stepStats answers the first /stats read of a pod with before, later ones
// with after, each rendered for that pod's IP.
type stepStats struct {
	mu            sync.Mutex
	reads         map[string]int
	before, after dpStats
}

func (s *stepStats) Admin(_ context.Context, ns, pod string) (probe.AdminGetter, error) {
	return adminFunc(func(context.Context, string) ([]byte, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.reads[ns+"/"+pod]++
		if s.reads[ns+"/"+pod] == 1 {
			return []byte(s.before.text(backendIPs[pod])), nil
		}
		return []byte(s.after.text(backendIPs[pod])), nil
	}), nil
}

// dpStats are the counters of a kuma-dp sidecar of the backend.
type dpStats struct {
	inboundCx, inboundTLS, inboundTLSErrors int
	// adminReads: kuma-cp's reads of the sidecar's admin API, each a new TLS
	// connection to the admin listener on <podIP>:9901.
	adminReads int
}

// text renders s the way Envoy's /stats names a kuma-dp 2.14 sidecar's
// listeners: by bound address, listener.<ip>_<port>.* (no stat prefix under
// legacy naming; kumahq/kuma v2.14.3 inbound_proxy_generator.go,
// admin_proxy_generator.go): the inbound of the service port 8080, the admin
// listener on 9901 with its TLS inspector, the transparent proxy's outbound
// (15001) and inbound passthrough (15006) listeners.
func (s dpStats) text(ip string) string {
	in, admin := "listener."+ip+"_8080.", "listener."+ip+"_9901."
	lines := []string{
		fmt.Sprintf("%sdownstream_cx_total: %d", in, s.inboundCx),
		fmt.Sprintf("%sssl.handshake: %d", in, s.inboundTLS),
		fmt.Sprintf("%sssl.connection_error: %d", in, s.inboundTLSErrors),
		fmt.Sprintf("%sdownstream_cx_total: %d", admin, s.adminReads),
		fmt.Sprintf("%sssl.handshake: %d", admin, s.adminReads),
		fmt.Sprintf("%sssl.connection_error: %d", admin, 0),
		fmt.Sprintf("%sno_filter_chain_match: %d", admin, 0),
		"listener.0.0.0.0_15001.downstream_cx_total: 3",
		"listener.0.0.0.0_15006.downstream_cx_total: 0",
		"listener.admin.downstream_cx_total: 7",
		fmt.Sprintf("tls_inspector.tls_found: %d", s.adminReads),
		"tls_inspector.tls_not_found: 0",
	}
	return strings.Join(lines, "\n") + "\n"
}

var backendIPs = map[string]string{"check-in-api-0": "10.244.1.7", "check-in-api-1": "10.244.2.9"}

type adminFunc func(context.Context, string) ([]byte, error)

func (f adminFunc) Get(ctx context.Context, p string) ([]byte, error) { return f(ctx, p) }

func backendObjects(annotations map[string]string) []client.Object {
	objs := []client.Object{&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: kuma.Namespace, Name: kuma.Backend, Annotations: annotations},
		Spec:       corev1.ServiceSpec{ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"}},
	}, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: kuma.Namespace, Name: kuma.Backend + "-x"},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.244.1.7"}}, {Addresses: []string{"10.244.2.9"}}},
	}}
	for pod, ip := range backendIPs {
		always := corev1.ContainerRestartPolicyAlways
		objs = append(objs, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: kuma.Namespace, Name: pod, Labels: map[string]string{"app": kuma.Backend}},
			Spec: corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: kuma.SidecarName, RestartPolicy: &always}},
				Containers:     []corev1.Container{{Name: "echo"}},
			},
			Status: corev1.PodStatus{PodIP: ip, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		})
	}
	return objs
}

func fakeRuntime(t *testing.T, objs []client.Object, targets []string, proxy http.Handler, before, after dpStats) (*Runtime, *recordApplier) {
	t.Helper()
	sch := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(sch); err != nil {
		t.Fatal(err)
	}
	var tj []string
	for i, tg := range targets {
		tj = append(tj, fmt.Sprintf(`{"id":"t%d","target":%q,"weight":100,"upstream":{"id":"u1"}}`, i, tg))
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	app := &recordApplier{}
	to := DefaultTimeouts()
	to.Converge, to.Poll, to.Requests, to.StatsSettled, to.Request = 50*time.Millisecond, 10*time.Millisecond, 20, 0, time.Second
	return &Runtime{
		Client:  fake.NewClientBuilder().WithScheme(sch).WithObjects(objs...).Build(),
		Applier: app,
		Kong: Kong{ProxyURL: srv.URL, Admin: mapAdmin{
			"/":                     `{"version":"3.9.1","configuration":{"upstream_keepalive_pool_size":0}}`,
			"/upstreams":            `{"data":[{"id":"u1","name":"check-in-api.kong-air-production.8080.svc"}],"next":null}`,
			"/upstreams/u1/targets": `{"data":[` + strings.Join(tj, ",") + `],"next":null}`,
		}},
		Sidecars: &stepStats{reads: map[string]int{}, before: before, after: after},
		HTTP:     srv.Client(),
		Echo:     probe.DecodeEchoJSON,
		Timeouts: to,
	}, app
}

// Sidecar counters before the traffic and after it in each outcome. kuma-cp
// reads the admin API meanwhile (adminReads grows), which must never count.
var (
	statsBefore    = dpStats{inboundCx: 4, inboundTLS: 2, adminReads: 10}
	statsRejected  = dpStats{inboundCx: 14, inboundTLS: 2, inboundTLSErrors: 10, adminReads: 13}
	statsMTLS      = dpStats{inboundCx: 6, inboundTLS: 4, adminReads: 13}
	statsOnlyAdmin = dpStats{inboundCx: 4, inboundTLS: 2, adminReads: 13}
)

func badGateway() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"message":"An invalid response was received from the upstream server"}`, http.StatusBadGateway)
	})
}

// sidecarEcho plays Kong + both sidecars: the echo backend behind a proxy
// that sets XFCC the way Kuma's inbound does.
func sidecarEcho(callerID string) http.Handler {
	echo := echoserver.New(echoserver.Options{PodName: "check-in-api-0", PodNamespace: kuma.Namespace})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("X-Forwarded-Client-Cert", "By=spiffe://default/check-in-api_kong-air-production_svc_8080;Hash=93075e57;URI="+callerID)
		echo.ServeHTTP(w, r)
	})
}

func checks(pr PhaseResult) map[string]CheckResult {
	m := map[string]CheckResult{}
	for _, c := range pr.Checks {
		m[c.Name] = c
	}
	return m
}

func TestReproducePhase(t *testing.T) {
	ph := Kuma(DefaultConfig())[0].Phases[0]
	tests := []struct {
		name        string
		annotations map[string]string
		targets     []string
		proxy       http.Handler
		after       dpStats
		verdict     Verdict
		reason      string
	}{
		{"reproduced", nil, []string{"10.244.1.7:8080", "10.244.2.9:8080"}, badGateway(), statsRejected, Passed, ""},
		{"masked by service-upstream", map[string]string{kuma.AnnotationUpstream: "true"}, []string{"check-in-api.kong-air-production.svc:8080"}, sidecarEcho("spiffe://default/kong_kong_svc_80"), statsMTLS, Failed, "precondition not met"},
		{"502 without plaintext at the backend", nil, []string{"10.244.1.7:8080"}, badGateway(), statsBefore, Failed, "precondition not met"},
		{"502 with only kuma-cp's admin reads at the backend", nil, []string{"10.244.1.7:8080"}, badGateway(), statsOnlyAdmin, Failed, "precondition not met"},
		{"requests succeed", nil, []string{"10.244.1.7:8080"}, sidecarEcho("x"), statsRejected, Failed, "end in 502 or a reset"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt, app := fakeRuntime(t, backendObjects(tc.annotations), tc.targets, tc.proxy, statsBefore, tc.after)
			pr := RunPhase(context.Background(), rt, ph)
			if pr.Verdict != tc.verdict || !strings.Contains(pr.Reason, tc.reason) {
				t.Fatalf("verdict %s %q, want %s %q; checks %+v", pr.Verdict, pr.Reason, tc.verdict, tc.reason, pr.Checks)
			}
			if len(app.sets) != 1 || app.sets[0] != kuma.VariantPodIP502 {
				t.Errorf("applied %v", app.sets)
			}
			if tc.reason == "precondition not met" {
				for _, c := range pr.Checks {
					if c.Kind == Claim && c.Verdict != Skipped {
						t.Errorf("claim %q judged (%s) although a precondition failed", c.Name, c.Verdict)
					}
				}
			}
		})
	}
}

func TestVerifyPhase(t *testing.T) {
	bridge := Kuma(DefaultConfig())[1]
	ph := bridge.Phases[1]
	tests := []struct {
		name    string
		caller  string
		after   dpStats
		verdict Verdict
		failing string
	}{
		{"kong over mTLS", "spiffe://default/kong-gateway-proxy_kong_svc_80", statsMTLS, Passed, ""},
		{"someone else's identity", "spiffe://default/intruder_other_svc_80", statsMTLS, Failed, "SPIFFE identity"},
		{"no handshakes", "spiffe://default/kong-gateway-proxy_kong_svc_80", statsBefore, Failed, "counted TLS handshakes"},
		{"only kuma-cp's admin reads shook hands", "spiffe://default/kong-gateway-proxy_kong_svc_80", statsOnlyAdmin, Failed, "counted TLS handshakes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := append(backendObjects(nil), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: kuma.Namespace, Name: kuma.Bridge}})
			rt, _ := fakeRuntime(t, objs, nil, sidecarEcho(tc.caller), statsBefore, tc.after)
			rt.Kong.Admin = mapAdmin{
				"/": `{"version":"3.9.1","configuration":{"upstream_keepalive_pool_size":60}}`,
				// KIC names an HTTPRoute's upstream after the route
				// (translator generateKongServiceFromBackendRefWithRuleNumber).
				"/upstreams":            `{"data":[{"id":"u2","name":"httproute.kong-air-production.check-in-ingress.0"},{"id":"u3","name":"httproute.other.route.0"}],"next":null}`,
				"/upstreams/u3/targets": `{"data":[{"id":"t3","target":"10.244.9.9:80","weight":100,"upstream":{"id":"u3"}}],"next":null}`,
				"/upstreams/u2/targets": `{"data":[{"id":"t","target":"check-in-api.kong-air-production.svc.8080.mesh:80","weight":100,"upstream":{"id":"u2"}}],"next":null}`,
			}
			pr := RunPhase(context.Background(), rt, ph)
			if pr.Verdict != tc.verdict {
				t.Fatalf("verdict %s (%s), want %s", pr.Verdict, pr.Reason, tc.verdict)
			}
			if tc.failing != "" && !strings.Contains(pr.Reason, tc.failing) {
				t.Errorf("reason %q does not name %q", pr.Reason, tc.failing)
			}
			if f := checks(pr)["handshakes per request"]; f.Verdict != Passed || !strings.Contains(f.Detail, "upstream_keepalive_pool_size=60") {
				t.Errorf("finding %+v", f)
			}
		})
	}
}

func TestKumaScenariosAreValid(t *testing.T) {
	list := For(MeshKuma, DefaultConfig())
	var ids []string
	for _, s := range list {
		if err := s.Validate(); err != nil {
			t.Error(err)
		}
		ids = append(ids, s.ID)
	}
	want := []string{KumaPodIP502, KumaBridge, KumaServiceUpstrm, KumaNegativeCtrl}
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("scenarios %v, want %v", ids, want)
	}
	if _, err := Find(list, "kuma-nope"); err == nil || !strings.Contains(err.Error(), KumaBridge) {
		t.Errorf("Find error %v should list known IDs", err)
	}
}

// fakePlaintext answers every URL with one outcome, as the exec'd client would.
type fakePlaintext struct {
	outcome probe.Outcome
	urls    []string
}

func (f *fakePlaintext) Get(_ context.Context, url string, _ time.Duration) probe.RequestResult {
	f.urls = append(f.urls, url)
	r := probe.RequestResult{Outcome: f.outcome}
	if f.outcome == probe.OutcomeOK {
		r.Status, r.Pod = 200, kuma.Namespace+"/"+kuma.Backend+"-0"
	} else {
		r.Error = "read: connection reset by peer"
	}
	return r
}

func TestNegativeControl(t *testing.T) {
	s := Kuma(DefaultConfig())[3]
	client := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: kuma.ClientNS, Name: "outside-client-x", Labels: map[string]string{"app": kuma.ClientApp}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "client"}}},
		Status:     corev1.PodStatus{PodIP: "10.244.3.3", Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	tests := []struct {
		phase   int
		outcome probe.Outcome
		verdict Verdict
	}{
		{0, probe.OutcomeReset, Passed},   // STRICT rejects
		{0, probe.OutcomeOK, Failed},      // STRICT not enforced
		{1, probe.OutcomeOK, Passed},      // the PERMISSIVE control reaches
		{1, probe.OutcomeReset, Failed},   // a control that fails proves nothing
		{2, probe.OutcomeTimeout, Passed}, // STRICT restored
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%s", s.Phases[tc.phase].Name, tc.outcome), func(t *testing.T) {
			rt, app := fakeRuntime(t, append(backendObjects(nil), client), nil, badGateway(), statsBefore, statsBefore)
			fp := &fakePlaintext{outcome: tc.outcome}
			rt.Plaintext = fp
			pr := RunPhase(context.Background(), rt, s.Phases[tc.phase])
			if pr.Verdict != tc.verdict {
				t.Fatalf("verdict %s (%s), want %s", pr.Verdict, pr.Reason, tc.verdict)
			}
			for _, u := range fp.urls {
				if strings.Contains(u, "10.244.3.3") {
					t.Errorf("the client called its own IP %s", u)
				}
			}
			if !slicesContain(fp.urls, "http://10.96.0.10:8080/") || !slicesContain(fp.urls, "http://10.244.1.7:8080/") {
				t.Errorf("urls %v miss the ClusterIP or a Pod IP", fp.urls)
			}
			if len(app.sets) != 1 {
				t.Errorf("applied %v", app.sets)
			}
		})
	}
}

func slicesContain(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestExplorePhasesOnlyReport(t *testing.T) {
	seed := Kuma(DefaultConfig())[1].Phases[3]
	objs := append(backendObjects(nil), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: kuma.Namespace, Name: kuma.Bridge}})
	unavailable := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"message":"name resolution failed"}`, http.StatusServiceUnavailable)
	})
	rt, _ := fakeRuntime(t, objs, nil, unavailable, statsBefore, statsBefore)
	rt.Kong.Admin = mapAdmin{
		"/upstreams":           `{"data":[{"id":"u","name":"httproute.kong-air-production.check-in-ingress.0"}],"next":null}`,
		"/upstreams/u/targets": `{"data":[{"id":"t","target":"check-in-api.kong-air-production.svc.mesh.local:8080","weight":100,"upstream":{"id":"u"}}],"next":null}`,
	}
	pr := RunPhase(context.Background(), rt, seed)
	if pr.Verdict != Passed || len(pr.Findings()) != 1 || !strings.Contains(pr.Findings()[0], "503=20") || !strings.Contains(pr.Findings()[0], "svc.mesh.local") {
		t.Fatalf("verdict %s %q, findings %v", pr.Verdict, pr.Reason, pr.Findings())
	}
}
