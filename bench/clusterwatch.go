package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meshgate/meshgate/internal/addons"
	"github.com/meshgate/meshgate/internal/cluster"
	mgprobe "github.com/meshgate/meshgate/internal/probe"
)

// clusterObserver reads, just before and just after each attack, the mTLS
// counters at the mode's backend and the kubelet's resource metrics of the
// proxies on its path, and records the differences in the run.
type clusterObserver struct {
	cs     kubernetes.Interface
	hops   hopReader
	modes  map[string]ClusterMode
	before snapshot
	log    *slog.Logger
}

// NewClusterObserver reads the mTLS evidence and proxy cost of p's modes on the
// cluster behind cs and cfg; RunCluster attaches one to every run.
func NewClusterObserver(cs kubernetes.Interface, cfg *rest.Config, p ClusterPlan, log *slog.Logger) Observer {
	o := &clusterObserver{cs: cs, hops: hopReaderFor(p.Options, cs, cfg), modes: map[string]ClusterMode{}, log: log}
	for _, m := range p.Modes {
		o.modes[m.Name] = m
	}
	return o
}

// snapshot is one reading of a mode's backend counters and proxies.
type snapshot struct {
	hop       hopCounts
	hopSource string
	hopErr    error
	proxies   map[string][]mgprobe.ContainerKey // by component
	proxyErr  map[string]error
	usage     map[mgprobe.ContainerKey]mgprobe.ContainerUsage
}

func (o *clusterObserver) Before(ctx context.Context, mode string) {
	o.before = o.read(ctx, o.modes[mode])
}

func (o *clusterObserver) After(ctx context.Context, run *Run) {
	m := o.modes[run.Mode]
	after := o.read(ctx, m)
	if m.Backend != nil {
		run.Hop = hopBetween(o.before, after, o.hops.unit)
	}
	for _, ref := range m.Proxies {
		if err := errors.Join(o.before.proxyErr[ref.Component], after.proxyErr[ref.Component]); err != nil {
			run.Proxies = append(run.Proxies, ProxyUsage{Component: ref.Component, Error: err.Error()})
			continue
		}
		run.Proxies = append(run.Proxies, usageBetween(ref.Component, o.before.proxies[ref.Component], o.before.usage, after.usage))
	}
}

func (o *clusterObserver) read(ctx context.Context, m ClusterMode) snapshot {
	s := snapshot{proxies: map[string][]mgprobe.ContainerKey{}, proxyErr: map[string]error{}, usage: map[mgprobe.ContainerKey]mgprobe.ContainerUsage{}}
	if m.Backend != nil {
		s.hop, s.hopSource, s.hopErr = o.readHops(ctx, *m.Backend)
	}
	nodes := map[string]bool{}
	for _, ref := range m.Proxies {
		keys, onNodes, err := containersOf(ctx, o.cs, ref)
		s.proxies[ref.Component], s.proxyErr[ref.Component] = keys, err
		for _, n := range onNodes {
			nodes[n] = true
		}
	}
	for n := range nodes {
		u, err := mgprobe.FetchResourceMetrics(ctx, o.cs, n)
		if err != nil {
			o.log.Warn("proxy cost: cannot read the kubelet", "node", n, "err", err)
			continue // its containers show up as missing
		}
		for k, v := range u {
			s.usage[k] = v
		}
	}
	return s
}

func (o *clusterObserver) readHops(ctx context.Context, b Backend) (hopCounts, string, error) {
	if o.hops.read == nil {
		return hopCounts{}, "", errors.New("no mTLS evidence reader for this mesh")
	}
	pods, err := readyPods(ctx, o.cs, b.Pods)
	if err != nil {
		return hopCounts{}, "", err
	}
	var total hopCounts
	var sources []string
	for _, p := range pods {
		c, src, err := o.hops.read(ctx, p, b)
		if err != nil {
			return hopCounts{}, "", err
		}
		total = total.plus(c)
		sources = append(sources, src)
	}
	return total, strings.Join(sources, "; "), nil
}

// hopCounts are cumulative counters at a backend: traffic that arrived over
// mutual TLS, traffic refused or failed before it could be, and everything
// accepted.
type hopCounts struct{ mtls, other, accepted float64 }

func (c hopCounts) plus(d hopCounts) hopCounts {
	return hopCounts{c.mtls + d.mtls, c.other + d.other, c.accepted + d.accepted}
}

// hopBetween is what one attack added: accepted traffic that did not
// arrive over mutual TLS counts against it as much as refused traffic.
func hopBetween(before, after snapshot, unit string) *HopEvidence {
	h := &HopEvidence{Source: after.hopSource, Unit: unit}
	if err := errors.Join(before.hopErr, after.hopErr); err != nil {
		h.Error = err.Error()
		return h
	}
	mtls := after.hop.mtls - before.hop.mtls
	plain := max(after.hop.accepted-before.hop.accepted-mtls, after.hop.other-before.hop.other)
	if mtls < 0 || plain < 0 {
		h.Error = "the backend's counters went back during the attack (a restarted pod or proxy)"
		return h
	}
	h.MTLS, h.NotMTLS = int64(mtls), int64(plain)
	return h
}

// A hopReader reads one backend pod's cumulative counters and says where.
type hopReader struct {
	unit string
	read func(ctx context.Context, pod corev1.Pod, b Backend) (hopCounts, string, error)
}

func hopReaderFor(o ClusterOptions, cs kubernetes.Interface, cfg *rest.Config) hopReader {
	switch o.Mesh {
	case cluster.MeshKuma:
		inspect := mgprobe.KumaInspect{REST: cfg, Namespace: addons.KumaNamespace, Service: addons.KumaCPName, Mesh: addons.DefaultMesh}
		return hopReader{unit: "handshakes", read: func(ctx context.Context, pod corev1.Pod, _ Backend) (hopCounts, string, error) {
			return kumaInboundCounts(ctx, inspect, pod, o.EchoPort)
		}}
	case cluster.MeshIstio:
		return hopReader{unit: "requests", read: func(ctx context.Context, pod corev1.Pod, _ Backend) (hopCounts, string, error) {
			return istioDestinationCounts(ctx, cfg, pod)
		}}
	case cluster.MeshIstioAmbient:
		return hopReader{unit: "connections", read: func(ctx context.Context, pod corev1.Pod, b Backend) (hopCounts, string, error) {
			return ztunnelDestinationCounts(ctx, cs, cfg, pod, b.Workload)
		}}
	}
	return hopReader{}
}

// kumaInboundCounts reads the backend's inbound listener only (see
// mgprobe.KumaInboundListener): handshakes completed, connections refused
// as plaintext or failing TLS, and connections accepted.
func kumaInboundCounts(ctx context.Context, inspect mgprobe.KumaInspect, pod corev1.Pod, port int) (hopCounts, string, error) {
	admin, err := inspect.Admin(ctx, pod.Namespace, pod.Name)
	if err != nil {
		return hopCounts{}, "", err
	}
	body, err := admin.Get(ctx, "/stats")
	if err != nil {
		return hopCounts{}, "", err
	}
	st, err := mgprobe.ParseStats(body)
	if err != nil {
		return hopCounts{}, "", fmt.Errorf("kuma sidecar of %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	l := mgprobe.KumaInboundListener(pod.Status.PodIP, port)
	v := func(s string) float64 { return float64(st.Values[l+s]) }
	return hopCounts{mtls: v("ssl.handshake"), other: v("ssl.connection_error") + v("no_filter_chain_match"), accepted: v("downstream_cx_total")},
		fmt.Sprintf("kuma sidecar of %s/%s, %s*", pod.Namespace, pod.Name, l), nil
}

// istioDestinationCounts reads istio_requests_total as the backend's own
// sidecar reports it (reporter destination), by connection_security_policy.
func istioDestinationCounts(ctx context.Context, cfg *rest.Config, pod corev1.Pod) (hopCounts, string, error) {
	pp := &mgprobe.PodPort{REST: cfg, Namespace: pod.Namespace, Pod: pod.Name, Port: mgprobe.IstioSidecarMetricsPort}
	m, err := scrape(ctx, pp, mgprobe.IstioSidecarMetricsPath)
	if err != nil {
		return hopCounts{}, "", err
	}
	var c hopCounts
	for policy, n := range m.RequestsBySecurityPolicy(mgprobe.RequestFilter{Reporter: "destination"}) {
		c.accepted += n
		if policy == mgprobe.MutualTLS {
			c.mtls += n
		}
	}
	return c, fmt.Sprintf("%s{reporter=destination} of the sidecar of %s/%s", mgprobe.IstioRequestsTotal, pod.Namespace, pod.Name), nil
}

// ztunnelDestinationCounts reads the connections the ztunnel on the
// backend's node opened to the backend's workload, by security policy.
func ztunnelDestinationCounts(ctx context.Context, cs kubernetes.Interface, cfg *rest.Config, pod corev1.Pod, workload string) (hopCounts, string, error) {
	zt, err := ztunnelOn(ctx, cs, pod.Spec.NodeName)
	if err != nil {
		return hopCounts{}, "", err
	}
	m, err := scrape(ctx, &mgprobe.PodPort{REST: cfg, Namespace: zt.Namespace, Pod: zt.Name, Port: mgprobe.ZtunnelMetricsPort}, mgprobe.ZtunnelMetricsPath)
	if err != nil {
		return hopCounts{}, "", err
	}
	var c hopCounts
	f := mgprobe.ConnectionFilter{Reporter: "destination", DestinationWorkload: workload, DestinationNamespace: pod.Namespace}
	for _, s := range m.ZtunnelConnections(f) {
		c.accepted += s.Count
		if s.SecurityPolicy == mgprobe.MutualTLS {
			c.mtls += s.Count
		}
	}
	return c, fmt.Sprintf("%s{reporter=destination, destination_workload=%s} of %s/%s on node %s",
		mgprobe.ZtunnelConnectionsOpened, workload, zt.Namespace, zt.Name, pod.Spec.NodeName), nil
}

func ztunnelOn(ctx context.Context, cs kubernetes.Interface, node string) (corev1.Pod, error) {
	pods, err := readyPods(ctx, cs, PodSet{addons.IstioNamespace, map[string]string{ztunnelPodLabel: addons.ZtunnelName}})
	if err != nil {
		return corev1.Pod{}, err
	}
	for _, p := range pods {
		if p.Spec.NodeName == node {
			return p, nil
		}
	}
	return corev1.Pod{}, fmt.Errorf("no ready ztunnel on node %s (kubectl -n %s get pods -l %s=%s -o wide)", node, addons.IstioNamespace, ztunnelPodLabel, addons.ZtunnelName)
}

func scrape(ctx context.Context, g mgprobe.AdminGetter, path string) (*mgprobe.SidecarMetrics, error) {
	body, err := g.Get(ctx, path)
	if err != nil {
		return nil, err
	}
	return mgprobe.ParseSidecarMetrics(bytes.NewReader(body))
}

// readyPods lists the ready, not terminating pods of set; none is an error.
func readyPods(ctx context.Context, cs kubernetes.Interface, set PodSet) ([]corev1.Pod, error) {
	sel := labels.SelectorFromSet(set.Labels).String()
	list, err := cs.CoreV1().Pods(set.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && podReady(&p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no ready pod matches %s in namespace %s (%d found)", sel, set.Namespace, len(list.Items))
	}
	return out, nil
}

// containersOf lists ref's containers (a native sidecar is an init
// container) and the nodes they run on.
func containersOf(ctx context.Context, cs kubernetes.Interface, ref ProxyRef) ([]mgprobe.ContainerKey, []string, error) {
	pods, err := readyPods(ctx, cs, ref.Pods)
	if err != nil {
		return nil, nil, err
	}
	var keys []mgprobe.ContainerKey
	var nodes []string
	for _, p := range pods {
		for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
			if c.Name == ref.Container {
				keys = append(keys, mgprobe.ContainerKey{Namespace: p.Namespace, Pod: p.Name, Container: c.Name})
				nodes = append(nodes, p.Spec.NodeName)
			}
		}
	}
	if len(keys) == 0 {
		return nil, nil, fmt.Errorf("no container %s in the pods of %s in %s", ref.Container, labels.SelectorFromSet(ref.Pods.Labels), ref.Pods.Namespace)
	}
	return keys, nodes, nil
}
