package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/fixtures/kuma"
	"github.com/meshgate/meshgate/internal/probe"
)

// Stats of the backend's inbound listener, as sum reads them: the deltas
// only ever hold that listener's stats (see inboundFilters).
var (
	statHandshake = probe.StatFilter{Contains: []string{"listener."}, Suffix: ".ssl.handshake"}
	statAccepted  = probe.StatFilter{Contains: []string{"listener."}, Suffix: ".downstream_cx_total"}
	// What a STRICT inbound does with plaintext: fail the TLS handshake, or
	// find no filter chain for it.
	statPlaintextRejected = []probe.StatFilter{
		{Contains: []string{"listener."}, Suffix: ".ssl.connection_error"},
		{Contains: []string{"listener."}, Suffix: ".no_filter_chain_match"},
	}
)

// inboundFilters select, on one backend sidecar, the stats of the inbound
// listener of the backend's port and nothing else (probe.KumaInboundListener
// says why only that one).
func inboundFilters(podIP string, port int) []probe.StatFilter {
	listener := probe.KumaInboundListener(podIP, port)
	var out []probe.StatFilter
	for _, f := range append([]probe.StatFilter{statHandshake, statAccepted}, statPlaintextRejected...) {
		out = append(out, probe.StatFilter{Contains: []string{listener}, Suffix: f.Suffix})
	}
	return out
}

// ProbeServices records the Services named, as the API server has them.
func ProbeServices(namespace string, names ...string) Probe {
	return Probe{Name: "services", Run: func(ctx context.Context, rt *Runtime, ev *Evidence) error {
		for _, n := range names {
			var s corev1.Service
			if err := rt.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: n}, &s); err != nil {
				return fmt.Errorf("Service %s/%s: %w", namespace, n, err)
			}
			ev.Services = append(ev.Services, ServiceFacts{
				Namespace: namespace, Name: n, Type: string(s.Spec.Type), ClusterIP: s.Spec.ClusterIP,
				ExternalName: s.Spec.ExternalName, Annotations: s.Annotations,
			})
		}
		return nil
	}}
}

// ProbeAnnotationAppears waits until a Service carries annotation (Kuma's
// controller is eventually consistent) or the converge timeout passes, and
// records the Service either way.
func ProbeAnnotationAppears(namespace, name, annotation string) Probe {
	return Probe{Name: "annotation " + annotation, Run: func(ctx context.Context, rt *Runtime, ev *Evidence) error {
		deadline := time.Now().Add(rt.Timeouts.Converge)
		for {
			var s corev1.Service
			err := rt.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &s)
			if err != nil {
				return fmt.Errorf("Service %s/%s: %w", namespace, name, err)
			}
			if _, ok := s.Annotations[annotation]; ok || time.Now().After(deadline) {
				ev.Services = append(ev.Services, ServiceFacts{Namespace: namespace, Name: name, Type: string(s.Spec.Type), ClusterIP: s.Spec.ClusterIP, Annotations: s.Annotations})
				return nil
			}
			if err := sleep(ctx, rt.Timeouts.Poll); err != nil {
				return err
			}
		}
	}}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// ProbePods records the pods matching app=name in namespace and whether the
// mesh sidecar runs in each (as a container or a native sidecar init container).
func ProbePods(namespace, app, sidecar string) Probe {
	return Probe{Name: "pods " + app, Run: func(ctx context.Context, rt *Runtime, ev *Evidence) error {
		var pods corev1.PodList
		if err := rt.Client.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabels{"app": app}); err != nil {
			return fmt.Errorf("listing pods app=%s in %s: %w", app, namespace, err)
		}
		if len(pods.Items) == 0 {
			return fmt.Errorf("no pods app=%s in %s", app, namespace)
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil {
				continue
			}
			pf := PodFacts{Namespace: p.Namespace, Name: p.Name, IP: p.Status.PodIP}
			for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
				pf.Containers = append(pf.Containers, c.Name)
				pf.Sidecar = pf.Sidecar || c.Name == sidecar
			}
			for _, c := range p.Status.Conditions {
				pf.Ready = pf.Ready || (c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue)
			}
			ev.Pods = append(ev.Pods, pf)
		}
		return nil
	}}
}

// addresses are the Pod IPs (from EndpointSlices) and ClusterIPs in namespace.
func addresses(ctx context.Context, rt *Runtime, namespace string) (probe.Addresses, error) {
	var a probe.Addresses
	var slices discoveryv1.EndpointSliceList
	if err := rt.Client.List(ctx, &slices, client.InNamespace(namespace)); err != nil {
		return a, fmt.Errorf("listing EndpointSlices in %s: %w", namespace, err)
	}
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			a.PodIPs = append(a.PodIPs, e.Addresses...)
		}
	}
	var svcs corev1.ServiceList
	if err := rt.Client.List(ctx, &svcs, client.InNamespace(namespace)); err != nil {
		return a, fmt.Errorf("listing Services in %s: %w", namespace, err)
	}
	for _, s := range svcs.Items {
		a.ClusterIPs = append(a.ClusterIPs, s.Spec.ClusterIPs...)
	}
	return a, nil
}

// TargetWant is what Kong's targets for the route should become.
type TargetWant struct {
	Kind probe.TargetKind
	Host string // "" for any
	Port string // "" for any
}

func (w TargetWant) holds(cts []probe.ClassifiedTarget) bool {
	if len(cts) == 0 {
		return false
	}
	for _, c := range cts {
		if c.Kind != w.Kind || (w.Host != "" && c.Host != w.Host) || (w.Port != "" && c.Port != w.Port) {
			return false
		}
	}
	return true
}

func (w TargetWant) String() string {
	s := string(w.Kind)
	if w.Host != "" || w.Port != "" {
		s += " " + w.Host + ":" + w.Port
	}
	return s
}

// kongUpstreamFor reports whether a Kong upstream serves the route or the
// backend: KIC names HTTPRoute upstreams after the route
// (httproute.<ns>.<route>.<rule>) or, when it merges services, after the
// backends; Ingress-style names are <service>.<ns>.<port>.svc.
func kongUpstreamFor(name, namespace, route, backend string) bool {
	return strings.Contains(name, namespace) && (strings.Contains(name, route) || strings.Contains(name, backend))
}

// ProbeKongTargets reads Kong's upstreams and classifies the targets of the
// upstreams serving route (or backend). Kong's configuration follows the
// cluster eventually, so it polls until the targets are what want says, or
// the converge timeout passes; then it records the last answer, and the
// preconditions judge it (a stale or unexpected target fails them there).
func ProbeKongTargets(namespace, route, backend string, want TargetWant) Probe {
	return Probe{Name: "kong targets of " + route, Run: func(ctx context.Context, rt *Runtime, ev *Evidence) error {
		deadline := time.Now().Add(rt.Timeouts.Converge)
		for {
			ups, err := probe.KongTargets(ctx, rt.Kong.Admin)
			if err != nil {
				return err
			}
			addrs, err := addresses(ctx, rt, namespace)
			if err != nil {
				return err
			}
			var cts []probe.ClassifiedTarget
			for _, u := range ups {
				if !kongUpstreamFor(u.Upstream, namespace, route, backend) {
					continue
				}
				for _, t := range u.Targets {
					if t.Weight == 0 {
						continue // a disabled target
					}
					ct, err := probe.ClassifyTarget(t.Target, addrs)
					if err != nil {
						return fmt.Errorf("upstream %s: %w", u.Upstream, err)
					}
					cts = append(cts, ct)
				}
			}
			if want.holds(cts) || time.Now().After(deadline) {
				ev.Upstreams, ev.Targets = ups, cts
				return nil
			}
			if err := sleep(ctx, rt.Timeouts.Poll); err != nil {
				return err
			}
		}
	}}
}

// ProbeKongConfig reads Kong's admin root for the settings that change what
// the handshake counters mean.
func ProbeKongConfig() Probe {
	return Probe{Name: "kong configuration", Run: func(ctx context.Context, rt *Runtime, ev *Evidence) error {
		body, err := rt.Kong.Admin.Get(ctx, "/")
		if err != nil {
			return fmt.Errorf("kong admin /: %w", err)
		}
		var root struct {
			Version       string         `json:"version"`
			Configuration map[string]any `json:"configuration"`
		}
		if err := json.Unmarshal(body, &root); err != nil {
			return fmt.Errorf("kong admin /: %w", err)
		}
		kf := &KongFacts{Version: root.Version}
		if v, ok := root.Configuration["upstream_keepalive_pool_size"].(float64); ok {
			n := int(v)
			kf.UpstreamKeepalivePoolSize = &n
		}
		ev.Kong = kf
		return nil
	}}
}

// ProbeTrafficThroughKong sends N requests through Kong's proxy while
// reading the backend sidecars' stats before and after, so the deltas
// belong to this window. It needs ProbePods to have run.
func ProbeTrafficThroughKong(name, path string) Probe {
	return Probe{Name: name, Run: func(ctx context.Context, rt *Runtime, ev *Evidence) error {
		before, err := sidecarStats(ctx, rt, ev.Pods)
		if err != nil {
			return err
		}
		rep, err := probe.Traffic(ctx, rt.HTTP, probe.TrafficSpec{
			URL: strings.TrimSuffix(rt.Kong.ProxyURL, "/") + path, N: rt.Timeouts.Requests, Timeout: rt.Timeouts.Request,
		}, rt.Echo)
		if err != nil {
			return err
		}
		ev.AddTraffic(name, rep)
		if err := sleep(ctx, rt.Timeouts.StatsSettled); err != nil {
			return err
		}
		after, err := sidecarStats(ctx, rt, ev.Pods)
		if err != nil {
			return err
		}
		if ev.StatDeltas == nil {
			ev.StatDeltas = map[string][]probe.StatDelta{}
		}
		for _, p := range ev.Pods {
			key := p.Namespace + "/" + p.Name
			b, ok := before[key]
			if !ok {
				continue
			}
			var ds []probe.StatDelta
			for _, f := range inboundFilters(p.IP, kuma.BackendPort) {
				ds = append(ds, probe.Deltas(b, after[key], f)...)
			}
			ev.StatDeltas[key] = ds
		}
		return nil
	}}
}

func sidecarStats(ctx context.Context, rt *Runtime, pods []PodFacts) (map[string]probe.Stats, error) {
	out := map[string]probe.Stats{}
	for _, p := range pods {
		if !p.Sidecar {
			continue
		}
		admin, err := rt.Sidecars.Admin(ctx, p.Namespace, p.Name)
		if err != nil {
			return nil, fmt.Errorf("sidecar admin of %s/%s: %w", p.Namespace, p.Name, err)
		}
		st, err := probe.ReadStats(ctx, admin)
		if err != nil {
			return nil, fmt.Errorf("sidecar stats of %s/%s: %w", p.Namespace, p.Name, err)
		}
		out[p.Namespace+"/"+p.Name] = st
	}
	return out, nil
}

// ProbePlaintext sends n plaintext requests from the client pod outside the
// mesh to every backend Pod IP and to the Service's ClusterIP. With
// untilOutcome set, it first waits (converge timeout) until one request ends
// that way: the mesh pushes a mode change to the sidecars eventually. The
// n requests that follow are the evidence.
func ProbePlaintext(namespace, service string, port int, untilOK *bool) Probe {
	return Probe{Name: "plaintext from outside the mesh", Run: func(ctx context.Context, rt *Runtime, ev *Evidence) error {
		var svc corev1.Service
		if err := rt.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: service}, &svc); err != nil {
			return fmt.Errorf("Service %s/%s: %w", namespace, service, err)
		}
		var podURLs []string
		for _, p := range ev.Pods {
			if p.Namespace == namespace && p.IP != "" {
				podURLs = append(podURLs, "http://"+net.JoinHostPort(p.IP, strconv.Itoa(port))+"/")
			}
		}
		if len(podURLs) == 0 {
			return fmt.Errorf("no backend Pod IPs recorded (ProbePods must run first)")
		}
		svcURL := "http://" + net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(port)) + "/"
		if untilOK != nil {
			waited, err := waitPlaintext(ctx, rt, svcURL, *untilOK)
			if err != nil {
				return err
			}
			ev.Note(fmt.Sprintf("mode change observed at the ClusterIP after %s", waited.Round(time.Second)))
		}
		ev.AddTraffic("plaintext-pod-ip", plaintextRun(ctx, rt, podURLs))
		ev.AddTraffic("plaintext-cluster-ip", plaintextRun(ctx, rt, []string{svcURL}))
		return nil
	}}
}

func waitPlaintext(ctx context.Context, rt *Runtime, url string, ok bool) (time.Duration, error) {
	start := time.Now()
	for {
		res := rt.Plaintext.Get(ctx, url, rt.Timeouts.Request)
		if (res.Outcome == probe.OutcomeOK) == ok {
			return time.Since(start), nil
		}
		if time.Since(start) > rt.Timeouts.Converge {
			// Not an error: the evidence that follows shows the state.
			return time.Since(start), nil
		}
		if err := sleep(ctx, rt.Timeouts.Poll); err != nil {
			return 0, err
		}
	}
}

// plaintextRun sends Timeouts.Requests/4 (at least 3) requests round-robin
// over urls; exec per request is slow, so fewer than through Kong.
func plaintextRun(ctx context.Context, rt *Runtime, urls []string) probe.TrafficReport {
	n := max(3, rt.Timeouts.Requests/4)
	rep := probe.TrafficReport{URL: strings.Join(urls, " "), Started: time.Now(), Outcomes: map[probe.Outcome]int{}, Pods: map[string]int{}}
	for i := 0; i < n; i++ {
		res := rt.Plaintext.Get(ctx, urls[i%len(urls)], rt.Timeouts.Request)
		res.Seq = i + 1
		rep.Requests = append(rep.Requests, res)
		rep.Outcomes[res.Outcome]++
		if res.Pod != "" {
			rep.Pods[res.Pod]++
		}
	}
	rep.Ended = time.Now()
	return rep
}

// sum adds the deltas of every pod for stats matching f.
func sum(ev *Evidence, f probe.StatFilter) int64 {
	var s int64
	for _, ds := range ev.StatDeltas {
		for _, d := range ds {
			if f.Match(d.Name) {
				s += d.Delta
			}
		}
	}
	return s
}

// kongIdentity reports whether a SPIFFE ID names a workload in Kong's
// namespace: Kuma's classic form spiffe://<mesh>/<svc>_<ns>_svc_<port> or
// the namespace/service-account form spiffe://<td>/ns/<ns>/sa/<sa>.
func kongIdentity(id, kongNS string) bool {
	return strings.Contains(id, "_"+kongNS+"_svc") || strings.Contains(id, "/ns/"+kongNS+"/")
}

func backendPods(ev *Evidence) []PodFacts {
	return slices.DeleteFunc(slices.Clone(ev.Pods), func(p PodFacts) bool { return p.Namespace != kuma.Namespace })
}
