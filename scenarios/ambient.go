package scenarios

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/fixtures"
	ambientfx "github.com/meshgate/meshgate/fixtures/ambient"
	istiofx "github.com/meshgate/meshgate/fixtures/istio"
	"github.com/meshgate/meshgate/internal/addons"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/probe"
)

// MeshIstioAmbient is Istio in ambient mode (cluster.MeshIstioAmbient).
const MeshIstioAmbient Mesh = cluster.MeshIstioAmbient

// Scenario IDs of the ambient suite.
const (
	AmbientL4              = "ambient-l4"
	AmbientWaypointBypass  = "ambient-waypoint-bypass"
	AmbientServiceUpstream = "ambient-service-upstream"
	AmbientWaypointAll     = "ambient-waypoint-all"
	AmbientStrictNegative  = "ambient-strict-negative"
)

// LabelAmbient tags the ambient suite's specs.
const LabelAmbient = "ambient"

// Detail keys of the ambient evidence.
const (
	DetailZtunnel = "ztunnelConnectionsDelta" // ztunnel pod -> []probe.ZtunnelConnections
)

func init() { register(MeshIstioAmbient, AmbientScenarios) }

// newAmbientRun is an istioRun over the ambient variants: the same
// backend, route, key pair and JWT table, in an ambient namespace.
func newAmbientRun(cfg Config) *istioRun {
	r := &istioRun{cfg: cfg, sets: map[string]fixtures.Set{}}
	r.opts = istiofx.Options{Image: cfg.EchoImage}.Defaults()
	r.issuer, r.err = probe.NewJWTIssuer(r.opts.Issuer, r.opts.Audiences[0], "customer-42")
	if r.err == nil {
		r.opts.JWKS, r.err = r.issuer.JWKS()
	}
	sets, err := ambientfx.Variants(ambientfx.Options{Options: r.opts})
	for _, s := range sets {
		r.sets[s.Name] = s
	}
	if r.err == nil {
		r.err = err
	}
	return r
}

// AmbientScenarios returns the ambient stories in run order.
func AmbientScenarios(cfg Config) []Scenario {
	r := newAmbientRun(cfg)
	return []Scenario{ambientL4(r), ambientBypass(r), ambientFix(r, AmbientServiceUpstream), ambientFix(r, AmbientWaypointAll), ambientStrictNegative(r)}
}

var ambientRequires = []Requirement{RequiresDocker, RequiresKong, RequiresKongAdmin, RequiresSidecarStat}

// --- ambient-l4 --------------------------------------------------------------

func ambientL4(r *istioRun) Scenario {
	kong := cluster.KongSPIFFEID(IstioTrustDomain)
	return Scenario{
		ID: AmbientL4,
		Description: "Kong enrolled in ambient targets order-service's Pod IPs under STRICT: ztunnel captures the connection and wraps it in HBONE mTLS, " +
			"so the sidecar-mode 502 does not happen; the backend node's ztunnel proves mTLS from Kong's identity. Kong outside the mesh is the contrast.",
		Mesh:     MeshIstioAmbient,
		Labels:   []string{LabelAmbient, LabelMTLS},
		Requires: ambientRequires,
		Phases: []Phase{{
			Kind:        PhaseVerify,
			Name:        "verify: Kong enrolled, Pod IPs under STRICT, every request 200 over ztunnel mTLS",
			Description: "istio_tcp_connections_opened_total on the backend's node (reporter destination) counts only mutual_tls from " + kong,
			Apply:       r.set(ambientfx.VariantL4),
			Probes:      []Probe{r.buildProbe(), removeJWTPolicies(r.opts), kongEnrolledProbe(), kongTargetsProbe(r.opts, true), ztunnelTrafficProbe(r.opts, "kong-to-order-service")},
			Expect: []Expectation{
				kongEnrolled(),
				targetsArePodIPs(true),
				serviceUpstreamAnnotated(r.opts, false),
				allOK("kong-to-order-service"),
				ztunnelMTLSFrom(kong),
			},
		}, {
			Kind: PhaseReproduce,
			Name: "contrast: Kong outside the mesh, Pod IPs under STRICT",
			Description: "Kong's namespace loses istio.io/dataplane-mode for the probe (and gets it back after): its connections are plaintext and " +
				"the backend's ztunnel refuses them, the sidecar-mode failure again",
			Probes: []Probe{withKongEnrolled(false, ztunnelTrafficProbe(r.opts, "kong-outside-to-order-service"))},
			Expect: []Expectation{noneOK("kong-outside-to-order-service"), ztunnelNoMTLSFrom(kong)},
		}},
	}
}

// --- ambient-waypoint-bypass -------------------------------------------------

func ambientBypass(r *istioRun) Scenario {
	return Scenario{
		ID: AmbientWaypointBypass,
		Description: "a waypoint (istio.io/waypoint-for unset: service) enforces RequestAuthentication and an AuthorizationPolicy, but Kong targets Pod IPs: " +
			"workload-addressed traffic skips a service waypoint, so a request without a token reaches order-service (meshgate lint: MG016).",
		Mesh:     MeshIstioAmbient,
		Labels:   []string{LabelAmbient, LabelJWT, LabelReproduce},
		Requires: ambientRequires,
		Phases: []Phase{{
			Kind:        PhaseReproduce,
			Name:        "reproduce: a token-less request reaches order-service past the waypoint",
			Description: "preconditions: Kong targets Pod IPs, the waypoint is programmed and serves Services only, the namespace uses it, the policies target it",
			Apply:       r.set(ambientfx.VariantWaypointBypass),
			Probes:      []Probe{r.buildProbe(), kongEnrolledProbe(), kongTargetsProbe(r.opts, true), waypointProbe(r.opts), r.bypassProbe()},
			Expect: []Expectation{
				kongEnrolled(),
				targetsArePodIPs(true),
				serviceUpstreamAnnotated(r.opts, false),
				waypointFacts(false),
				bypassed("no token"),
				bypassed("forged x-jwt-payload without a token"),
			},
		}},
	}
}

// --- ambient-service-upstream, ambient-waypoint-all --------------------------

func ambientFix(r *istioRun, id string) Scenario {
	variant, podIP, forAll := ambientfx.VariantServiceUpstream, false, false
	desc := "fix 1: service-upstream makes Kong address the Service, so Kong's ztunnel sends the request to the waypoint; the JWT table holds there."
	if id == AmbientWaypointAll {
		variant, podIP, forAll = ambientfx.VariantWaypointAll, true, true
		desc = "fix 2: the waypoint takes workload traffic too (istio.io/waypoint-for: all, the namespace's pods use it): Kong keeps Pod IPs and the JWT table holds."
	}
	exp := []Expectation{kongEnrolled(), targetsArePodIPs(podIP), waypointFacts(forAll)}
	for _, row := range JWTRows(PolicyClaims) {
		exp = append(exp, jwtRowHolds(row))
	}
	return Scenario{
		ID: id, Description: desc, Mesh: MeshIstioAmbient,
		Labels:   []string{LabelAmbient, LabelJWT, LabelFix},
		Requires: ambientRequires,
		Phases: []Phase{{
			Kind:        PhaseVerify,
			Name:        "verify: the JWT table through the waypoint",
			Description: "every row: status, answering layer (the waypoint's jwt_authn and RBAC), what reached order-service",
			Apply:       r.set(variant),
			Probes:      []Probe{r.buildProbe(), kongEnrolledProbe(), kongTargetsProbe(r.opts, podIP), waypointProbe(r.opts), r.jwtTableProbe(PolicyClaims)},
			Expect:      exp,
		}},
	}
}

// --- ambient-strict-negative -------------------------------------------------

func ambientStrictNegative(r *istioRun) Scenario {
	url := fmt.Sprintf("http://%s:%d/", r.opts.ServiceHost(), r.opts.Port)
	return Scenario{
		ID:          AmbientStrictNegative,
		Description: "a plaintext client outside the mesh is refused by order-service's ztunnel under STRICT, and reaches it under PERMISSIVE (the control).",
		Mesh:        MeshIstioAmbient,
		Labels:      []string{LabelAmbient, LabelMTLS, LabelNegative},
		Requires:    []Requirement{RequiresDocker, RequiresClient},
		Phases: []Phase{{
			Kind:   PhaseVerify,
			Name:   "verify: STRICT refuses a plaintext client",
			Apply:  r.set(ambientfx.VariantStrict),
			Probes: []Probe{r.buildProbe(), removeJWTPolicies(r.opts), ambientPlaintextProbe(url, probe.OutcomeReset)},
			Expect: []Expectation{plaintextAll(probe.OutcomeReset)},
		}, {
			Kind:   PhaseVerify,
			Name:   "control: PERMISSIVE lets the same client through",
			Apply:  r.set(ambientfx.VariantPermissive),
			Probes: []Probe{ambientPlaintextProbe(url, probe.OutcomeOK)},
			Expect: []Expectation{plaintextAll(probe.OutcomeOK)},
		}},
	}
}

// --- probes --------------------------------------------------------------------

// ztunnelPods returns the ztunnel pod on each node running an order-service
// replica (the DaemonSet's pods carry app=ztunnel).
func ztunnelPods(ctx context.Context, rt *Runtime, o istiofx.Options) ([]string, error) {
	backends, err := istioBackendPods(ctx, rt, o)
	if err != nil {
		return nil, err
	}
	var zt corev1.PodList
	if err := rt.Client.List(ctx, &zt, client.InNamespace(addons.IstioNamespace), client.MatchingLabels{"app": addons.ZtunnelName}); err != nil {
		return nil, fmt.Errorf("listing ztunnel pods in %s: %w", addons.IstioNamespace, err)
	}
	var out []string
	for _, b := range backends {
		found := false
		for _, z := range zt.Items {
			if z.Spec.NodeName == b.Spec.NodeName && z.Status.PodIP != "" {
				found = true
				if !slices.Contains(out, z.Name) {
					out = append(out, z.Name)
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("no running ztunnel on node %s, where %s runs (kubectl -n %s get pods -l app=ztunnel -o wide)", b.Spec.NodeName, b.Name, addons.IstioNamespace)
		}
	}
	return out, nil
}

type ztunnelSnapshot map[string]*probe.SidecarMetrics

func readZtunnels(ctx context.Context, rt *Runtime, pods []string) (ztunnelSnapshot, error) {
	snap := ztunnelSnapshot{}
	for _, p := range pods {
		g, err := rt.Sidecars.Admin(ctx, addons.IstioNamespace, p)
		if err != nil {
			return nil, fmt.Errorf("ztunnel %s: %w", p, err)
		}
		body, err := g.Get(ctx, probe.ZtunnelMetricsPath)
		if err != nil {
			return nil, fmt.Errorf("ztunnel %s :%d%s: %w", p, probe.ZtunnelMetricsPort, probe.ZtunnelMetricsPath, err)
		}
		m, err := probe.ParseSidecarMetrics(strings.NewReader(string(body)))
		if err != nil {
			return nil, fmt.Errorf("ztunnel %s: %w", p, err)
		}
		snap[p] = m
	}
	return snap, nil
}

// ztunnelTrafficProbe scrapes the backend nodes' ztunnels, waits until Kong
// routes, sends Timeouts.Requests requests to the probe path and scrapes
// again. The first scrape comes before any request: Kong keeps upstream
// connections alive, and the counter moves only when one opens.
func ztunnelTrafficProbe(o istiofx.Options, name string) Probe {
	return Probe{Name: "traffic through Kong with ztunnel connection deltas", Run: func(ctx context.Context, rt *Runtime, ev *Evidence) error {
		pods, err := ztunnelPods(ctx, rt, o)
		if err != nil {
			return err
		}
		before, err := readZtunnels(ctx, rt, pods)
		if err != nil {
			return err
		}
		url := strings.TrimRight(rt.Kong.ProxyURL, "/") + o.ProbePath
		if err := waitRouted(ctx, rt, url); err != nil {
			ev.Note(err.Error())
		}
		rep, err := probe.Traffic(ctx, rt.HTTP, probe.TrafficSpec{URL: url, N: rt.Timeouts.Requests, Timeout: rt.Timeouts.Request}, rt.Echo)
		if err != nil {
			return err
		}
		ev.AddTraffic(name, rep)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(rt.Timeouts.StatsSettled):
		}
		after, err := readZtunnels(ctx, rt, pods)
		if err != nil {
			return err
		}
		f := probe.ConnectionFilter{Reporter: "destination", DestinationWorkload: o.Backend, DestinationNamespace: o.Namespace}
		delta := map[string][]probe.ZtunnelConnections{}
		for p, a := range after {
			delta[p] = probe.ZtunnelConnectionDelta(before[p], a, f)
		}
		return ev.SetDetail(DetailZtunnel, delta)
	}}
}

// withKongEnrolled runs inner with Kong's namespace enrolled in ambient or
// not, and puts the label back as the stack set it, whatever inner did.
// Ambient enrolment follows the label without restarting pods (the CNI
// agent watches namespaces).
func withKongEnrolled(enrolled bool, inner Probe) Probe {
	set := func(ctx context.Context, rt *Runtime, on bool) error {
		val := `null`
		if on {
			val = `"` + ambientfx.DataplaneAmbient + `"`
		}
		patch := []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:%s}}}`, ambientfx.LabelDataplaneMode, val))
		ns := &corev1.Namespace{}
		ns.Name = cluster.KongNamespace
		if err := rt.Client.Patch(ctx, ns, client.RawPatch(types.MergePatchType, patch)); err != nil {
			return fmt.Errorf("labelling namespace %s %s=%s: %w", cluster.KongNamespace, ambientfx.LabelDataplaneMode, val, err)
		}
		return nil
	}
	return Probe{Name: fmt.Sprintf("Kong enrolled=%v: %s", enrolled, inner.Name), Run: func(ctx context.Context, rt *Runtime, ev *Evidence) error {
		if err := set(ctx, rt, enrolled); err != nil {
			return err
		}
		ev.Note(fmt.Sprintf("namespace %s: %s set to enrolled=%v for this probe", cluster.KongNamespace, ambientfx.LabelDataplaneMode, enrolled))
		// The CNI agent acts on the change asynchronously.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(3 * rt.Timeouts.Poll):
		}
		err := inner.Run(ctx, rt, ev)
		restoreCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return errors.Join(err, set(restoreCtx, rt, true))
	}}
}

const detailKongEnrolled = "kongNamespaceDataplaneMode"

// kongEnrolledProbe records Kong's namespace's istio.io/dataplane-mode: the
// stack sets it for istio-ambient; on a cluster set up by hand it may not be.
func kongEnrolledProbe() Probe {
	return Probe{Name: "Kong's namespace enrolment", Run: func(ctx context.Context, rt *Runtime, ev *Evidence) error {
		var ns corev1.Namespace
		if err := rt.Client.Get(ctx, client.ObjectKey{Name: cluster.KongNamespace}, &ns); err != nil {
			return fmt.Errorf("reading namespace %s: %w", cluster.KongNamespace, err)
		}
		return ev.SetDetail(detailKongEnrolled, ns.Labels[ambientfx.LabelDataplaneMode])
	}}
}

// WaypointFacts is what the bypass's preconditions need from the cluster.
type WaypointFacts struct {
	Name         string `json:"name"`
	Programmed   bool   `json:"programmed"`
	WaypointFor  string `json:"waypointFor"` // label value; "" means istiod's default, service
	NamespaceUse string `json:"namespaceUseWaypoint"`
	Policies     int    `json:"policiesTargetingIt"`
}

const detailWaypoint = "waypoint"

// waypointProbe waits (up to Apply) until the waypoint Gateway is
// Programmed, then records its traffic type, the namespace's
// use-waypoint label and how many JWT policies target it.
func waypointProbe(o istiofx.Options) Probe {
	ao := ambientfx.Options{Options: o}.Defaults()
	return Probe{Name: "waypoint " + ao.Waypoint + " programmed and bound", Run: func(ctx context.Context, rt *Runtime, ev *Evidence) error {
		facts := WaypointFacts{Name: ao.Namespace + "/" + ao.Waypoint}
		deadline := time.Now().Add(rt.Timeouts.Apply)
		for {
			gw := ambientfx.Waypoint(ao, false)
			if err := rt.Client.Get(ctx, client.ObjectKeyFromObject(gw), gw); err != nil {
				return fmt.Errorf("reading waypoint %s: %w", facts.Name, err)
			}
			facts.WaypointFor = gw.Labels[ambientfx.LabelWaypointFor]
			for _, c := range gw.Status.Conditions {
				facts.Programmed = facts.Programmed || (c.Type == "Programmed" && c.Status == "True" && c.ObservedGeneration >= gw.Generation)
			}
			if facts.Programmed || time.Now().After(deadline) {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(rt.Timeouts.Poll):
			}
		}
		var ns corev1.Namespace
		if err := rt.Client.Get(ctx, client.ObjectKey{Name: ao.Namespace}, &ns); err != nil {
			return err
		}
		facts.NamespaceUse = ns.Labels[ambientfx.LabelUseWaypoint]
		for _, p := range []client.Object{ambientfx.RequestAuthentication(ao), ambientfx.AuthorizationPolicy(ao)} {
			if err := rt.Client.Get(ctx, client.ObjectKeyFromObject(p), p); err == nil {
				facts.Policies++
			}
		}
		return ev.SetDetail(detailWaypoint, facts)
	}}
}

// bypassProbe sends the JWT table's token-less rows (plain, and with a
// forged x-jwt-payload) through Kong, after giving the policy time to
// apply: a bypass must not be claimed while the waypoint is still starting.
func (r *istioRun) bypassProbe() Probe {
	return Probe{Name: "token-less requests through Kong", Run: func(ctx context.Context, rt *Runtime, ev *Evidence) error {
		url := strings.TrimRight(rt.Kong.ProxyURL, "/") + r.opts.RoutePath
		if err := waitRouted(ctx, rt, url); err != nil {
			ev.Note(err.Error())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(rt.Timeouts.Converge / 3):
		}
		var obs []JWTObservation
		for _, row := range JWTRows(PolicyClaims) {
			if row.Token != probe.TokenNone {
				continue
			}
			req, err := NewJWTRequest(r.issuer, row, time.Now())
			if err != nil {
				return err
			}
			obs = append(obs, r.callJWT(ctx, rt, url, req))
		}
		return ev.SetDetail(DetailJWTRows, obs)
	}}
}
