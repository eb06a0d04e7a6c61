package stack_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/bench"
	"github.com/meshgate/meshgate/internal/addons"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/kube"
	"github.com/meshgate/meshgate/internal/kubetest"
	"github.com/meshgate/meshgate/internal/probe"
)

// proxyMetrics stands in for the processes kwok does not run: an Istio
// sidecar's :15090 and ztunnel's :15020, reached through the API server's
// port-forwards. Every scrape finds five more mutual-TLS requests and
// connections to the bench's echo than the one before.
type proxyMetrics struct {
	namespace, echo string // the bench's meshed namespace and echo workload
	scrapes         atomic.Int64
}

func (p *proxyMetrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := 5 * p.scrapes.Add(1)
	ns, echo := p.namespace, p.echo
	switch r.URL.Path {
	case probe.IstioSidecarMetricsPath:
		fmt.Fprintf(w, "# TYPE %s counter\n%s{reporter=\"destination\",destination_workload=%q,destination_workload_namespace=%q,response_code=\"200\",connection_security_policy=\"mutual_tls\"} %d\n",
			probe.IstioRequestsTotal, probe.IstioRequestsTotal, echo, ns, n)
	case probe.ZtunnelMetricsPath:
		fmt.Fprintf(w, "# TYPE istio_tcp_connections_opened counter\n%s{reporter=\"destination\",destination_workload=%q,destination_workload_namespace=%q,response_flags=\"-\",connection_security_policy=\"mutual_tls\"} %d\n# EOF\n",
			probe.ZtunnelConnectionsOpened, echo, ns, n)
	default:
		http.NotFound(w, r)
	}
}

// proxyMetricsForwards send the metrics ports of the bench's meshed
// namespace and of istio-system to a proxyMetrics server.
func proxyMetricsForwards(t *testing.T) []kubetest.SimPortForward {
	plan, err := bench.NewClusterPlan(bench.ClusterOptions{Mesh: cluster.MeshIstio})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&proxyMetrics{namespace: plan.Options.MeshNamespace, echo: plan.Options.EchoName})
	t.Cleanup(srv.Close)
	return []kubetest.SimPortForward{
		{Namespace: plan.Options.MeshNamespace, Ports: []int32{probe.IstioSidecarMetricsPort}, Target: srv.Listener.Addr().String()},
		{Namespace: addons.IstioNamespace, Ports: []int32{probe.ZtunnelMetricsPort}, Target: srv.Listener.Addr().String()},
	}
}

// assertBenchPaths runs the bench's observer around an empty attack of
// every mode on the simulated cluster: each proxy on a mode's path must be
// found as a container of pods the real charts and injectors made, and the
// backend's mTLS counters must be read through the API server where a
// stand-in answers (Istio, ambient), or fail naming the reader (Kuma's
// inspect API needs a running kuma-cp).
func (h *simHarness) assertBenchPaths(t *testing.T, kc *kube.Client, plan bench.ClusterPlan) {
	t.Helper()
	ctx := t.Context()
	h.labelLoadgenNode(t)
	var pods []client.Object
	for _, p := range plan.LoadgenPods() {
		pods = append(pods, p)
	}
	if err := kc.Apply(ctx, pods...); err != nil {
		t.Fatalf("apply the loadgen pods: %v", err)
	}
	cs, err := kubernetes.NewForConfig(h.sim.Config)
	if err != nil {
		t.Fatal(err)
	}
	obs := bench.NewClusterObserver(cs, h.sim.Config, plan, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	for _, m := range plan.Modes {
		if m.Backend == nil && len(m.Proxies) == 0 {
			continue
		}
		t.Run(m.Name, func(t *testing.T) {
			run := h.observeUntilResolved(t, obs, m)
			for _, u := range run.Proxies {
				if u.Component == bench.ComponentWaypoint {
					// istiod deploys the waypoint's pods; it does not run here.
					if !strings.Contains(u.Error, "no ready pod matches") {
						t.Errorf("waypoint: %+v, want no pod on the simulated cluster", u)
					}
					continue
				}
				if len(u.Containers) == 0 {
					t.Errorf("%s: no container found: %s", u.Component, u.Error)
				}
				t.Logf("%s: %v (%s)", u.Component, u.Containers, u.Error)
			}
			assertSamePods(t, run.Proxies, bench.ComponentKong, bench.ComponentKongSidecar)
			assertSamePods(t, run.Proxies, bench.ComponentLoadgenSidecar)
			if len(run.Proxies) != len(m.Proxies) {
				t.Errorf("%d proxy readings for %d proxies on the path", len(run.Proxies), len(m.Proxies))
			}
			h.assertHop(t, plan.Options.Mesh, m, run.Hop)
		})
	}
}

// assertSamePods wants the named components' containers in one and the
// same set of pods, one container per pod: Kong's sidecar is the gateway
// pods' (not the controller's), the loadgen sidecar the mesh loadgen's.
func assertSamePods(t *testing.T, usage []bench.ProxyUsage, components ...string) {
	t.Helper()
	var want []string
	for _, u := range usage {
		if !slices.Contains(components, u.Component) {
			continue
		}
		var pods []string
		for _, c := range u.Containers {
			pods = append(pods, path.Dir(c))
		}
		slices.Sort(pods)
		if len(slices.Compact(slices.Clone(pods))) != len(pods) {
			t.Errorf("%s: more than one container per pod: %v", u.Component, u.Containers)
		}
		if want == nil {
			want = pods
		} else if !slices.Equal(pods, want) {
			t.Errorf("%s runs in pods %v, want the pods of %s %v", u.Component, pods, components[0], want)
		}
	}
	if want == nil {
		return
	}
	if len(want) != 1 {
		t.Errorf("%v: %d pods, want the one replica", components, len(want))
	}
}

// observeUntilResolved retries while the path's pods are still starting.
func (h *simHarness) observeUntilResolved(t *testing.T, obs bench.Observer, m bench.ClusterMode) bench.Run {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		obs.Before(t.Context(), m.Name)
		run := bench.Run{Mode: m.Name}
		obs.After(t.Context(), &run)
		starting := run.Hop != nil && strings.Contains(run.Hop.Error, "no ready pod")
		for _, u := range run.Proxies {
			starting = starting || (u.Component != bench.ComponentWaypoint && strings.Contains(u.Error, "no ready pod"))
		}
		if !starting || time.Now().After(deadline) {
			return run
		}
		time.Sleep(time.Second)
	}
}

func (h *simHarness) assertHop(t *testing.T, mesh string, m bench.ClusterMode, hop *bench.HopEvidence) {
	t.Helper()
	if m.Backend == nil {
		if hop != nil {
			t.Errorf("hop evidence %+v for a mode that never enters the mesh", *hop)
		}
		return
	}
	if hop == nil {
		t.Fatalf("no hop evidence for a mode whose backend is %v", m.Backend)
	}
	t.Logf("hop: %+v", *hop)
	if mesh == cluster.MeshKuma {
		if hop.Error == "" || strings.Contains(hop.Error, "no ready pod") {
			t.Errorf("kuma: %+v, want the inspect API's failure (no kuma-cp process), the backend found", *hop)
		}
		return
	}
	if hop.Error != "" || hop.MTLS <= 0 || hop.NotMTLS != 0 {
		t.Errorf("%s: %+v, want the stand-in's mutual TLS growth read through the port-forward", mesh, *hop)
	}
}

// labelLoadgenNode gives one fake node the label kind's config gives the
// load generator's node.
func (h *simHarness) labelLoadgenNode(t *testing.T) {
	t.Helper()
	var nodes corev1.NodeList
	if err := h.sim.Client.List(t.Context(), &nodes); err != nil || len(nodes.Items) == 0 {
		t.Fatalf("list nodes: %v (%d)", err, len(nodes.Items))
	}
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, cluster.LoadgenNodeLabel, cluster.LoadgenPool)
	n := &nodes.Items[len(nodes.Items)-1]
	if err := h.sim.Client.Patch(t.Context(), n, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatal(err)
	}
}
