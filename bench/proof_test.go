package bench

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/fixtures/apps/echo/echoserver"
	mgprobe "github.com/meshgate/meshgate/internal/probe"
)

func TestProveMTLS(t *testing.T) {
	const src = "kuma sidecar of ns/echo, listener.10.0.0.5_8080"
	hop := func(mtls, not int64, errMsg string) *HopEvidence {
		return &HopEvidence{Source: src, Unit: "handshakes", MTLS: mtls, NotMTLS: not, Error: errMsg}
	}
	cases := []struct {
		name   string
		hops   []*HopEvidence
		status string
		says   string
	}{
		{"handshakes in every attack", []*HopEvidence{hop(16, 0, ""), hop(4, 0, "")}, ProofMTLS, "20 handshakes over mutual TLS, 0 not"},
		{"handshakes in one attack, pooled in the next", []*HopEvidence{hop(16, 0, ""), hop(0, 0, "")}, ProofMTLS, "over 2 attacks"},
		{"zero handshakes is not mTLS", []*HopEvidence{hop(0, 0, ""), hop(0, 0, "")}, ProofUnverified, "nothing new reached the backend"},
		{"one plaintext connection", []*HopEvidence{hop(16, 0, ""), hop(3, 1, "")}, ProofNotMTLS, "1 not"},
		{"unreadable counters", []*HopEvidence{hop(0, 0, "kuma inspect: 503")}, ProofUnverified, "could not be read: kuma inspect: 503"},
		{"unreadable once, proven otherwise", []*HopEvidence{hop(0, 0, "timeout"), hop(8, 0, "")}, ProofMTLS, "8 handshakes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runs := []Run{{Mode: ModeBaseline}} // no hop: no verdict
			for _, h := range tc.hops {
				runs = append(runs, Run{Mode: ModeKongMesh, Hop: h})
			}
			proofs := ProveMTLS([]string{ModeBaseline, ModeKongMesh}, runs)
			if len(proofs) != 1 || proofs[0].Mode != ModeKongMesh {
				t.Fatalf("verdicts %+v, want one for %s", proofs, ModeKongMesh)
			}
			p := proofs[0]
			if p.Status != tc.status || !strings.Contains(p.Evidence, tc.says) {
				t.Errorf("got %q (%s), want %q saying %q", p.Status, p.Evidence, tc.status, tc.says)
			}
			if got := mtlsEnabled(proofs); got != (tc.status == ProofMTLS) {
				t.Errorf("mtls_enabled = %v with verdict %s", got, p.Status)
			}
		})
	}
	if mtlsEnabled(nil) {
		t.Error("mtls_enabled with no verdict at all")
	}
}

// hopObserver stands in for the cluster's: it counts what each attack of
// mode kong-mesh would have left on the backend.
type hopObserver struct {
	before map[string]int
	after  int
}

func (o *hopObserver) Before(_ context.Context, mode string) { o.before[mode]++ }

func (o *hopObserver) After(_ context.Context, run *Run) {
	o.after++
	if run.Mode == ModeProxy {
		run.Hop = &HopEvidence{Source: "test", Unit: "requests", MTLS: int64(run.Connections)}
		run.Proxies = []ProxyUsage{{Component: ComponentBackendSidecar, Containers: []string{"ns/echo/istio-proxy"}, Cores: 0.5, WindowSeconds: 1, MemoryMiB: 40}}
	}
}

// Execute brackets every attack with the observer and the summary carries
// the verdicts and costs built from what it recorded.
func TestExecuteObservesEveryAttack(t *testing.T) {
	env, err := StartLocal(t.Context(), LocalOptions{Backend: echoserver.New(echoserver.Options{}), Proxy: ProxyGo, BodyBytes: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	obs := &hopObserver{before: map[string]int{}}
	o := smallOptions()
	s, err := Execute(t.Context(), t.TempDir(), Plan{Target: "local", Modes: env.Modes, Baseline: ModeBaseline, Options: o, Observer: obs}, LocalLoader{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	attacks := len(env.Modes) * len(o.Connections) * o.Repetitions
	if obs.after != attacks || obs.before[ModeProxy] != len(o.Connections)*o.Repetitions {
		t.Errorf("observer saw %d attacks ended and %v started, want %d ended", obs.after, obs.before, attacks)
	}
	if len(s.MTLS) != 1 || s.MTLS[0].Mode != ModeProxy || s.MTLS[0].Status != ProofMTLS || !s.Mesh.MTLSEnabled {
		t.Errorf("mtls verdicts %+v, mtls_enabled %v; want %s proven", s.MTLS, s.Mesh.MTLSEnabled, ModeProxy)
	}
	if len(s.ProxyCosts) != 1 || s.ProxyCosts[0].Published != publishedEnvoy {
		t.Errorf("proxy costs %+v, want the backend sidecar beside Istio's published figure", s.ProxyCosts)
	}
	var out strings.Builder
	PrintSummary(&out, s, "run")
	for _, want := range []string{"mTLS into the backend", "requests over mutual TLS", ComponentBackendSidecar, publishedEnvoy} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the printed summary lacks %q:\n%s", want, out.String())
		}
	}
}

func TestUsageBetween(t *testing.T) {
	t0 := time.Unix(1765000000, 0)
	k1 := mgprobe.ContainerKey{Namespace: "istio-system", Pod: "ztunnel-a", Container: "istio-proxy"}
	k2 := mgprobe.ContainerKey{Namespace: "istio-system", Pod: "ztunnel-b", Container: "istio-proxy"}
	before := map[mgprobe.ContainerKey]mgprobe.ContainerUsage{
		k1: {CPUSeconds: 10, CPUAt: t0, WorkingSetBytes: 10 << 20},
		k2: {CPUSeconds: 5, CPUAt: t0.Add(5 * time.Second), WorkingSetBytes: 8 << 20},
	}
	after := map[mgprobe.ContainerKey]mgprobe.ContainerUsage{
		k1: {CPUSeconds: 40, CPUAt: t0.Add(60 * time.Second), WorkingSetBytes: 12 << 20},
		k2: {CPUSeconds: 11, CPUAt: t0.Add(65 * time.Second), WorkingSetBytes: 9 << 20},
	}
	u := usageBetween(ComponentZtunnel, []mgprobe.ContainerKey{k1, k2}, before, after)
	if u.Error != "" || u.Cores != 0.6 || u.WindowSeconds != 60 || u.MemoryMiB != 21 {
		t.Errorf("two ztunnels: got %+v, want 0.5+0.1 cores over 60 s, 12+9 MiB", u)
	}
	stale := map[mgprobe.ContainerKey]mgprobe.ContainerUsage{k1: before[k1], k2: after[k2]}
	for name, tc := range map[string]struct {
		after map[mgprobe.ContainerKey]mgprobe.ContainerUsage
		says  string
	}{
		"a container gone":      {map[mgprobe.ContainerKey]mgprobe.ContainerUsage{k1: after[k1]}, "ztunnel-b/istio-proxy is missing"},
		"no new kubelet sample": {stale, "no new sample"},
		"restarted container":   {map[mgprobe.ContainerKey]mgprobe.ContainerUsage{k1: {CPUSeconds: 1, CPUAt: t0.Add(time.Minute)}, k2: after[k2]}, "went back"},
	} {
		u := usageBetween(ComponentZtunnel, []mgprobe.ContainerKey{k1, k2}, before, tc.after)
		if !strings.Contains(u.Error, tc.says) || u.Cores != 0 {
			t.Errorf("%s: got %+v, want no figure and an error saying %q", name, u, tc.says)
		}
	}
}

func TestProxyCostsPer1000RPS(t *testing.T) {
	use := func(cores float64) []ProxyUsage {
		return []ProxyUsage{{Component: ComponentKong, Cores: cores, MemoryMiB: 100 * cores}, {Component: ComponentZtunnel, Error: "ztunnel-x/istio-proxy is missing from the kubelet's resource metrics"}}
	}
	runs := []Run{
		{Mode: ModeKongMesh, ActualQPS: 1000, Proxies: use(0.4)},
		{Mode: ModeKongMesh, ActualQPS: 2000, Proxies: use(1.0)},
		{Mode: ModeKongMesh, ActualQPS: 1000, Proxies: use(9), Rejected: true},
	}
	got := ProxyCosts([]string{ModeKongMesh}, runs)
	if len(got) != 2 {
		t.Fatalf("costs %+v, want kong and ztunnel", got)
	}
	if k := got[0]; k.Component != ComponentKong || k.CoresPer1000RPS != 0.45 || k.MemoryMiB != 100 || k.Runs != 2 || k.Published != "" {
		t.Errorf("kong: %+v, want mean of 0.4 and 0.5 cores per 1000 rps over the 2 accepted runs, 100 MiB, no published figure", k)
	}
	if z := got[1]; z.Runs != 0 || z.CoresPer1000RPS != 0 || !strings.Contains(z.Note, "missing from the kubelet") || z.Published != publishedZtunnel {
		t.Errorf("ztunnel: %+v, want no figure, the reason, and Istio's ztunnel figure", z)
	}
}

// hopBetween: what one attack added at the backend. Accepted traffic that
// did not arrive over mutual TLS (a PERMISSIVE listener taking plaintext)
// counts against the mode as much as traffic refused for it.
func TestHopBetween(t *testing.T) {
	at := func(mtls, other, accepted float64) snapshot {
		return snapshot{hop: hopCounts{mtls, other, accepted}, hopSource: "listener.10.0.0.5_8080.*"}
	}
	cases := []struct {
		name          string
		before, after snapshot
		mtls, not     int64
		err           string
	}{
		{"every connection handshook", at(10, 0, 10), at(26, 0, 26), 16, 0, ""},
		{"plaintext accepted", at(10, 0, 10), at(14, 0, 20), 4, 6, ""},
		{"plaintext refused", at(10, 2, 12), at(10, 5, 15), 0, 3, ""},
		{"counters went back", at(10, 0, 10), at(3, 0, 3), 0, 0, "went back"},
		{"unreadable", at(10, 0, 10), snapshot{hopErr: errors.New("port-forward: pod not found")}, 0, 0, "pod not found"},
	}
	for _, tc := range cases {
		h := hopBetween(tc.before, tc.after, "handshakes")
		if h.MTLS != tc.mtls || h.NotMTLS != tc.not || (tc.err == "") != (h.Error == "") || !strings.Contains(h.Error, tc.err) {
			t.Errorf("%s: got %+v, want %d mTLS, %d not, error %q", tc.name, *h, tc.mtls, tc.not, tc.err)
		}
	}
}
