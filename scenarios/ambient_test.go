package scenarios

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ambientfx "github.com/meshgate/meshgate/fixtures/ambient"
	"github.com/meshgate/meshgate/internal/addons"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/probe"
)

func TestAmbientScenariosAreValidAndRegistered(t *testing.T) {
	list := For(MeshIstioAmbient, DefaultConfig())
	want := []string{AmbientL4, AmbientWaypointBypass, AmbientServiceUpstream, AmbientWaypointAll, AmbientStrictNegative}
	if len(list) != len(want) {
		t.Fatalf("got %d ambient scenarios, want %d", len(list), len(want))
	}
	wantSet := map[string]string{AmbientL4: ambientfx.VariantL4, AmbientWaypointBypass: ambientfx.VariantWaypointBypass,
		AmbientServiceUpstream: ambientfx.VariantServiceUpstream, AmbientWaypointAll: ambientfx.VariantWaypointAll, AmbientStrictNegative: ambientfx.VariantStrict}
	for i, s := range list {
		if s.ID != want[i] {
			t.Errorf("scenario %d is %s, want %s", i, s.ID, want[i])
		}
		if err := s.Validate(); err != nil {
			t.Error(err)
		}
		if first := s.Phases[0].Apply; len(first) != 1 || first[0].Name != wantSet[s.ID] || len(first[0].Objects) == 0 {
			t.Errorf("%s applies %v first, want the set %s", s.ID, first, wantSet[s.ID])
		}
	}
	// The fixes run the whole JWT table at the waypoint.
	for _, id := range []string{AmbientServiceUpstream, AmbientWaypointAll} {
		s, _ := Find(list, id)
		rows := 0
		for _, e := range s.Phases[0].Expect {
			if strings.HasPrefix(e.Name, "row: ") {
				rows++
			}
		}
		if rows != len(JWTRows(PolicyClaims)) {
			t.Errorf("%s checks %d JWT rows, want %d", id, rows, len(JWTRows(PolicyClaims)))
		}
	}
}

// fakeAmbient is fakeIstio's Kong with the backend pods on two nodes and a
// ztunnel per node whose istio_tcp_connections_opened_total (the upstream-
// shaped sample in internal/probe/testdata) grows with the answered requests.
type fakeAmbient struct {
	*fakeIstio
	template string
}

func newFakeAmbient(t *testing.T) *fakeAmbient {
	f := &fakeAmbient{fakeIstio: newFakeIstio(t)}
	f.l4Only = true
	raw, err := os.ReadFile("../internal/probe/testdata/ztunnel_15020.prom")
	if err != nil {
		t.Fatal(err)
	}
	f.template = strings.NewReplacer(`destination_workload="echo"`, `destination_workload="order-service"`,
		`destination_workload_namespace="shop"`, `destination_workload_namespace="api-system"`).Replace(string(raw))
	ctx := context.Background()
	for i, p := range fakePods {
		var pod corev1.Pod
		if err := f.c.Get(ctx, client.ObjectKey{Namespace: "api-system", Name: p.name}, &pod); err != nil {
			t.Fatal(err)
		}
		pod.Spec.NodeName = fmt.Sprintf("worker-%d", i)
		if err := f.c.Update(ctx, &pod); err != nil {
			t.Fatal(err)
		}
		zt := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ztunnel-%d", i), Namespace: addons.IstioNamespace, Labels: map[string]string{"app": "ztunnel"}},
			Spec: corev1.PodSpec{NodeName: pod.Spec.NodeName}, Status: corev1.PodStatus{PodIP: fmt.Sprintf("172.18.0.%d", i+2)}}
		if err := f.c.Create(ctx, zt); err != nil {
			t.Fatal(err)
		}
	}
	kong := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: cluster.KongNamespace, Labels: map[string]string{"istio.io/dataplane-mode": "ambient"}}}
	if err := f.c.Create(ctx, kong); err != nil {
		t.Fatal(err)
	}
	return f
}

// Admin is each node's ztunnel metrics: half the answered requests each,
// counted as mTLS from Kong, or as plaintext when f.plaintext.
func (f *fakeAmbient) Admin(_ context.Context, ns, pod string) (probe.AdminGetter, error) {
	if ns != addons.IstioNamespace || !strings.HasPrefix(pod, "ztunnel-") {
		return nil, fmt.Errorf("fake: no ztunnel %s/%s", ns, pod)
	}
	return ztunnelGetter{f}, nil
}

type ztunnelGetter struct{ f *fakeAmbient }

func (g ztunnelGetter) Get(_ context.Context, path string) ([]byte, error) {
	if path != probe.ZtunnelMetricsPath {
		return nil, fmt.Errorf("fake ztunnel: no %s", path)
	}
	g.f.mu.Lock()
	n, plain := g.f.requests/2, g.f.plaintext
	g.f.mu.Unlock()
	kong, other := n, 0
	if plain {
		kong, other = 0, n
	}
	return []byte(strings.NewReplacer("KONG", fmt.Sprint(kong), "PLAIN", fmt.Sprint(other)).Replace(g.f.template)), nil
}

func runAmbientL4(t *testing.T, tweak func(*fakeAmbient)) PhaseResult {
	t.Helper()
	f := newFakeAmbient(t)
	if tweak != nil {
		tweak(f)
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	timeouts := DefaultTimeouts()
	timeouts.Converge, timeouts.Poll, timeouts.Requests, timeouts.StatsSettled = 300*time.Millisecond, 5*time.Millisecond, 10, 0
	rt := &Runtime{Client: f.c, Applier: f, Kong: Kong{ProxyURL: srv.URL, Admin: f}, Sidecars: f,
		HTTP: srv.Client(), Echo: probe.DecodeEchoJSON, Timeouts: timeouts}
	return RunPhase(context.Background(), rt, ambientL4(newAmbientRun(DefaultConfig())).Phases[0])
}

func TestAmbientL4AgainstAFake(t *testing.T) {
	if f := failedChecks([]PhaseResult{runAmbientL4(t, nil)}); len(f) > 0 {
		t.Fatalf("Pod IPs over ztunnel mTLS fail checks:\n%s", strings.Join(f, "\n"))
	}
	cases := []struct {
		name  string
		tweak func(*fakeAmbient)
		want  string
	}{
		{"plaintext at the backend's ztunnel", func(f *fakeAmbient) { f.plaintext = true }, "not mTLS from " + cluster.KongSPIFFEID(IstioTrustDomain)},
		{"Kong answers 502", func(f *fakeAmbient) { f.status = 502 }, "opened no connection"},
		{"Kong not enrolled", func(f *fakeAmbient) {
			ns := &corev1.Namespace{}
			_ = f.c.Get(context.Background(), client.ObjectKey{Name: cluster.KongNamespace}, ns)
			ns.Labels = nil
			_ = f.c.Update(context.Background(), ns)
		}, "is not captured by ztunnel"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			failed := strings.Join(failedChecks([]PhaseResult{runAmbientL4(t, c.tweak)}), "\n")
			if !strings.Contains(failed, c.want) {
				t.Errorf("want a failed check containing %q; failed:\n%s", c.want, failed)
			}
		})
	}
}

// The bypass claim holds only when order-service itself answered; the
// waypoint's RBAC answering means the policy applied.
func TestBypassedJudgesWhoAnswered(t *testing.T) {
	cases := []struct {
		name string
		obs  JWTObservation
		ok   bool
	}{
		{"backend answered", JWTObservation{Row: "no token", Status: 401, Layer: LayerBackend, Backend: 401}, true},
		{"waypoint refused", JWTObservation{Row: "no token", Status: 403, Layer: LayerRBAC, Body: BodyRBACDenied}, false},
		{"forged header arrived as sent", JWTObservation{Row: "no token", Layer: LayerBackend, Forged: "abc", Received: []string{"abc"}}, true},
		{"forged header stripped", JWTObservation{Row: "no token", Layer: LayerBackend, Forged: "abc"}, false},
		{"row not sent", JWTObservation{Row: "other"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := &Evidence{}
			if err := ev.SetDetail(DetailJWTRows, []JWTObservation{c.obs}); err != nil {
				t.Fatal(err)
			}
			err := bypassed("no token").Check(ev)
			if (err == nil) != c.ok {
				t.Errorf("ok=%v, err=%v", c.ok, err)
			}
		})
	}
}

func TestWaypointFactsPrecondition(t *testing.T) {
	good := WaypointFacts{Name: "api-system/waypoint", Programmed: true, NamespaceUse: "waypoint", Policies: 2}
	cases := []struct {
		name   string
		facts  func(WaypointFacts) WaypointFacts
		forAll bool
		want   string
	}{
		{"service waypoint holds", func(f WaypointFacts) WaypointFacts { return f }, false, ""},
		{"all waypoint holds", func(f WaypointFacts) WaypointFacts { f.WaypointFor = "all"; return f }, true, ""},
		{"not programmed", func(f WaypointFacts) WaypointFacts { f.Programmed = false; return f }, false, "not Programmed"},
		{"wrong traffic type", func(f WaypointFacts) WaypointFacts { f.WaypointFor = "all"; return f }, false, `want ""`},
		{"namespace not bound", func(f WaypointFacts) WaypointFacts { f.NamespaceUse = ""; return f }, false, "use-waypoint"},
		{"policy missing", func(f WaypointFacts) WaypointFacts { f.Policies = 1; return f }, false, "1 of"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := &Evidence{}
			_ = ev.SetDetail(detailWaypoint, c.facts(good))
			err := waypointFacts(c.forAll).Check(ev)
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Errorf("err %v, want %q", err, c.want)
			}
		})
	}
}
