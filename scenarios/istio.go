package scenarios

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/fixtures"
	istiofx "github.com/meshgate/meshgate/fixtures/istio"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/probe"
)

// Scenario IDs of the Istio suite.
const (
	IstioPodIP           = "istio-podip"
	IstioServiceUpstream = "istio-service-upstream"
	IstioStrictNegative  = "istio-strict-negative"
	IstioJWTClaims       = "istio-jwt-claims"
)

// Labels of the Istio suite (besides LabelMTLS, LabelReproduce, ...).
const (
	LabelIstio = "istio"
	LabelJWT   = "jwt"
)

// IstioTrustDomain is Istio's default trust domain (meshConfig.trustDomain).
const IstioTrustDomain = "cluster.local"

// Detail keys of the Istio evidence.
const (
	DetailIstioRequests = "istioRequestsDelta" // pod -> connection_security_policy -> requests added
	DetailJWTRows       = "jwtRows"            // []JWTObservation
	DetailPlaintext     = "plaintext"          // []probe.RequestResult
)

func init() { register(MeshIstio, IstioScenarios) }

// istioRun is what one build of the Istio scenarios shares: the per-run
// signing key and the rendered fixture sets.
type istioRun struct {
	cfg    Config
	opts   istiofx.Options
	issuer *probe.JWTIssuer
	sets   map[string]fixtures.Set
	err    error // a build failure, reported by every phase that needs it
}

func newIstioRun(cfg Config) *istioRun {
	r := &istioRun{cfg: cfg, sets: map[string]fixtures.Set{}}
	r.opts = istiofx.Options{Image: cfg.EchoImage}.Defaults()
	r.issuer, r.err = probe.NewJWTIssuer(r.opts.Issuer, r.opts.Audiences[0], "customer-42")
	if r.err == nil {
		r.opts.JWKS, r.err = r.issuer.JWKS()
	}
	sets, err := istiofx.Variants(r.opts)
	for _, s := range sets {
		r.sets[s.Name] = s
	}
	if r.err == nil {
		r.err = err
	}
	return r
}

func (r *istioRun) set(name string) []fixtures.Set {
	if s, ok := r.sets[name]; ok {
		return []fixtures.Set{s}
	}
	return nil
}

// IstioScenarios returns the Istio stories in run order. Each build mints a
// new key pair for the JWT scenario.
func IstioScenarios(cfg Config) []Scenario {
	r := newIstioRun(cfg)
	return []Scenario{r.podIP(), r.serviceUpstream(), r.strictNegative(), r.jwtClaims()}
}

// --- istio-podip ---------------------------------------------------------

func (r *istioRun) podIP() Scenario {
	return Scenario{
		ID:          IstioPodIP,
		Description: "Kong load-balances to order-service Pod IPs under STRICT mTLS; Istio documents that this breaks mTLS. Measure what the pinned Istio does, after proving Kong really targets Pod IPs.",
		Mesh:        MeshIstio,
		Labels:      []string{LabelIstio, LabelMTLS, LabelReproduce},
		Requires:    []Requirement{RequiresDocker, RequiresKong, RequiresKongAdmin, RequiresSidecarStat},
		Phases: []Phase{{
			Kind:        PhaseReproduce,
			Name:        "reproduce: Kong to Pod IPs under STRICT",
			Description: "no service-upstream annotation; Kong's targets must be Pod IPs before anything is claimed",
			Apply:       r.set(istiofx.VariantPodIP),
			Probes: []Probe{
				r.buildProbe(),
				removeJWTPolicies(r.opts),
				kongTargetsProbe(r.opts, true),
				meshTrafficProbe(r.opts, "kong-to-order-service"),
			},
			Expect: []Expectation{
				targetsArePodIPs(true),
				serviceUpstreamAnnotated(r.opts, false),
				noPlaintextAtBackend(),
				podIPOutcomeCoherent(r.opts.Port),
				podIPFinding(),
			},
		}, {
			Kind: PhaseReproduce,
			Name: "measure: Pod IPs with Host set to the Service's name",
			Description: "KIC gives the route preserve_host=true, so Kong forwards the client's Host and ignores konghq.com/host-header; " +
				"with host-header on the Service and konghq.com/preserve-host: \"false\" on the HTTPRoute Kong sends the Service's name, and " +
				"the sidecar, which routes HTTP by Host, may pick the Service's cluster (mTLS) even though Kong dialled a Pod IP",
			Apply: r.set(istiofx.VariantPodIPHost),
			Probes: []Probe{
				kongTargetsProbe(r.opts, true),
				kongHostProbe(r.opts, r.opts.ServiceHost()),
				meshTrafficProbe(r.opts, "kong-to-order-service"),
			},
			Expect: []Expectation{
				targetsArePodIPs(true),
				kongSendsHost(r.opts.ServiceHost()),
				noPlaintextAtBackend(),
				podIPOutcomeCoherent(r.opts.Port),
				hostRoutingFinding(),
			},
		}},
	}
}

// --- istio-service-upstream ----------------------------------------------

func (r *istioRun) serviceUpstream() Scenario {
	kong := cluster.KongSPIFFEID(IstioTrustDomain)
	return Scenario{
		ID:          IstioServiceUpstream,
		Description: "the fix: service-upstream makes Kong target the Service, its sidecar originates Istio mTLS, and order-service sees Kong's SPIFFE identity.",
		Mesh:        MeshIstio,
		Labels:      []string{LabelIstio, LabelMTLS, LabelFix},
		Requires:    []Requirement{RequiresDocker, RequiresKong, RequiresKongAdmin, RequiresSidecarStat},
		Phases: []Phase{
			{
				Kind:  PhaseFix,
				Name:  "fix: order-service service-upstream and host-header, the HTTPRoute preserve-host \"false\"",
				Apply: r.set(istiofx.VariantServiceUpstream),
				Probes: []Probe{
					r.buildProbe(),
					removeJWTPolicies(r.opts),
					kongTargetsProbe(r.opts, false),
					kongHostProbe(r.opts, r.opts.ServiceHost()),
				},
				Expect: []Expectation{targetsArePodIPs(false), serviceUpstreamAnnotated(r.opts, true), kongSendsHost(r.opts.ServiceHost())},
			},
			{
				Kind:        PhaseVerify,
				Name:        "verify: every request 200 over mTLS from Kong's identity",
				Description: "XFCC URI exactly " + kong + "; istio_requests_total counts mutual_tls; ssl.handshake moved",
				Probes:      []Probe{kongTargetsProbe(r.opts, false), meshTrafficProbe(r.opts, "kong-to-order-service")},
				Expect: []Expectation{
					targetsArePodIPs(false),
					allOK("kong-to-order-service"),
					backendHostIs(r.opts.ServiceHost()),
					xfccIsExactly("kong-to-order-service", kong),
					mutualTLSCounted(),
					noPlaintextAtBackend(),
					handshakeFinding(),
				},
			},
		},
	}
}

// --- istio-strict-negative -----------------------------------------------

func (r *istioRun) strictNegative() Scenario {
	url := fmt.Sprintf("http://%s:%d/", r.opts.ServiceHost(), r.opts.Port)
	return Scenario{
		ID:          IstioStrictNegative,
		Description: "a plaintext client outside the mesh is reset by order-service's sidecar under STRICT, and reaches it under PERMISSIVE (the control that shows the client works).",
		Mesh:        MeshIstio,
		Labels:      []string{LabelIstio, LabelMTLS, LabelNegative},
		Requires:    []Requirement{RequiresDocker, RequiresClient, RequiresSidecarStat},
		Phases: []Phase{
			{
				Kind:  PhaseVerify,
				Name:  "verify: STRICT resets a plaintext client",
				Apply: r.set(istiofx.VariantStrict),
				Probes: []Probe{r.buildProbe(), removeJWTPolicies(r.opts),
					plaintextProbe(r.opts, url, probe.OutcomeReset)},
				Expect: []Expectation{plaintextAll(probe.OutcomeReset), plaintextNeverAnswered()},
			},
			{
				Kind:   PhaseVerify,
				Name:   "control: PERMISSIVE lets the same client through",
				Apply:  r.set(istiofx.VariantPermissive),
				Probes: []Probe{plaintextProbe(r.opts, url, probe.OutcomeOK)},
				Expect: []Expectation{plaintextAll(probe.OutcomeOK), plaintextCounted()},
			},
		},
	}
}

// --- istio-jwt-claims ----------------------------------------------------

func (r *istioRun) jwtClaims() Scenario {
	phase := func(name, variant string, policy JWTPolicy, extra ...Probe) Phase {
		probes := append([]Probe{r.buildProbe()}, extra...)
		probes = append(probes, r.jwtTableProbe(policy))
		var exp []Expectation
		for _, row := range JWTRows(policy) {
			exp = append(exp, jwtRowHolds(row))
		}
		exp = append(exp, seedMiddlewareFinding())
		return Phase{Kind: PhaseVerify, Name: name, Apply: r.set(variant), Probes: probes, Expect: exp,
			Description: "every row of the JWT table through Kong into the mesh: status, answering layer, what reached the backend"}
	}
	return Scenario{
		ID: IstioJWTClaims,
		Description: "a per-run key pair signs tokens; RequestAuthentication (inline JWKS, then an in-cluster jwksUri) and an AuthorizationPolicy on " +
			"requestPrincipals and scope decide at the right layer, and x-jwt-payload reaches order-service as Envoy writes it (base64url, no padding).",
		Mesh:     MeshIstio,
		Labels:   []string{LabelIstio, LabelJWT},
		Requires: []Requirement{RequiresDocker, RequiresKong},
		Phases: []Phase{
			phase("requestauthentication only: a token-less request passes the mesh", istiofx.VariantRequestAuthOnly, PolicyRequestAuthOnly,
				removeObjects(istiofx.AuthorizationPolicy(r.opts))),
			phase("jwt-claims: inline JWKS", istiofx.VariantJWTClaims, PolicyClaims),
			r.jwksURIPhase(phase("jwt-claims: JWKS from an in-cluster jwksUri", istiofx.VariantJWTClaimsURI, PolicyClaims)),
		},
	}
}

// jwksURIPhase first deletes the inline configuration and waits to see it
// gone (dropInlineJWT): the jwksUri rows then cannot be answered by it.
func (r *istioRun) jwksURIPhase(p Phase) Phase {
	p.Before = []Probe{r.buildProbe(), r.dropInlineJWT()}
	p.Expect = append([]Expectation{inlineJWTGone()}, p.Expect...)
	p.Description += "; the inline-JWKS policy is deleted and seen gone first, so the rows judge the jwksUri one"
	return p
}

// --- probes ----------------------------------------------------------------

func (r *istioRun) buildProbe() Probe {
	return Probe{Name: "istio fixtures built", Run: func(context.Context, *Runtime, *Evidence) error {
		if r.err != nil {
			return fmt.Errorf("building the Istio scenarios: %w", r.err)
		}
		return nil
	}}
}

// removeJWTPolicies deletes the RequestAuthentication and AuthorizationPolicy
// another scenario (or an earlier run on a reused cluster) left on
// order-service: the mTLS scenarios send no tokens.
func removeJWTPolicies(o istiofx.Options) Probe {
	return removeObjects(istiofx.AuthorizationPolicy(o), istiofx.RequestAuthentication(o, false))
}

// removeObjects deletes objs if present (apply never removes an object).
func removeObjects(objs ...*unstructured.Unstructured) Probe {
	var names []string
	for _, obj := range objs {
		names = append(names, obj.GetKind())
	}
	return Probe{Name: "no " + strings.Join(names, " or ") + " left from another scenario", Run: func(ctx context.Context, rt *Runtime, ev *Evidence) error {
		if rt.Client == nil {
			return errors.New("no Kubernetes client in the runtime")
		}
		for _, obj := range objs {
			err := rt.Client.Delete(ctx, obj)
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				return fmt.Errorf("deleting %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
			default:
				ev.Note(fmt.Sprintf("deleted %s %s/%s left by an earlier scenario", obj.GetKind(), obj.GetNamespace(), obj.GetName()))
			}
		}
		return nil
	}}
}

// backendPods lists order-service's pods (name and IP), sorted.
func istioBackendPods(ctx context.Context, rt *Runtime, o istiofx.Options) ([]corev1.Pod, error) {
	var pods corev1.PodList
	if err := rt.Client.List(ctx, &pods, client.InNamespace(o.Namespace), client.MatchingLabels{"app": o.Backend}); err != nil {
		return nil, fmt.Errorf("listing %s pods in %s: %w", o.Backend, o.Namespace, err)
	}
	var out []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Status.PodIP != "" {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if len(out) == 0 {
		return nil, fmt.Errorf("no running %s pod in %s (kubectl -n %s get pods -l app=%s)", o.Backend, o.Namespace, o.Namespace, o.Backend)
	}
	return out, nil
}

// kongTargetsProbe polls Kong's admin API until the order-service upstream's
// targets are all Pod IPs (wantPodIP) or none is, or Converge passes; the
// expectations judge the last state seen.
func kongTargetsProbe(o istiofx.Options, wantPodIP bool) Probe {
	return Probe{Name: "Kong's targets for order-service", Run: func(ctx context.Context, rt *Runtime, ev *Evidence) error {
		deadline := time.Now().Add(rt.Timeouts.Converge)
		for {
			if err := readKongTargets(ctx, rt, o, ev); err != nil {
				return err
			}
			if len(ev.Targets) > 0 && allPodIP(ev.Targets) == wantPodIP && nonePodIP(ev.Targets) != wantPodIP {
				return nil
			}
			if time.Now().After(deadline) {
				ev.Note(fmt.Sprintf("Kong's targets did not settle within %s; judging the last state", rt.Timeouts.Converge))
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(rt.Timeouts.Poll):
			}
		}
	}}
}

func allPodIP(ts []probe.ClassifiedTarget) bool {
	for _, t := range ts {
		if t.Kind != probe.TargetPodIP {
			return false
		}
	}
	return len(ts) > 0
}

func nonePodIP(ts []probe.ClassifiedTarget) bool {
	for _, t := range ts {
		if t.Kind == probe.TargetPodIP {
			return false
		}
	}
	return true
}

func readKongTargets(ctx context.Context, rt *Runtime, o istiofx.Options, ev *Evidence) error {
	ups, err := probe.KongTargets(ctx, rt.Kong.Admin)
	if err != nil {
		return err
	}
	pods, err := istioBackendPods(ctx, rt, o)
	if err != nil {
		return err
	}
	var svc corev1.Service
	if err := rt.Client.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.Backend}, &svc); err != nil {
		return fmt.Errorf("reading Service %s/%s: %w", o.Namespace, o.Backend, err)
	}
	addrs := probe.Addresses{ClusterIPs: svc.Spec.ClusterIPs}
	for _, p := range pods {
		addrs.PodIPs = append(addrs.PodIPs, p.Status.PodIP)
	}
	ev.Upstreams, ev.Targets = nil, nil
	for _, u := range ups {
		if !strings.Contains(u.Upstream, o.Backend) {
			continue
		}
		ev.Upstreams = append(ev.Upstreams, u)
		for _, t := range u.Targets {
			ct, err := probe.ClassifyTarget(t.Target, addrs)
			if err != nil {
				return fmt.Errorf("upstream %s: %w", u.Upstream, err)
			}
			ev.Targets = append(ev.Targets, ct)
		}
	}
	ev.Services = []ServiceFacts{{Namespace: svc.Namespace, Name: svc.Name, Type: string(svc.Spec.Type),
		ClusterIP: svc.Spec.ClusterIP, Annotations: svc.Annotations}}
	return nil
}

// sidecarSnapshot is one read of every backend sidecar: Envoy /stats and the
// Prometheus text of its own metrics endpoint (:15090 /stats/prometheus; the
// Istio suite's Sidecars route that path to that port).
type sidecarSnapshot map[string]struct {
	stats probe.Stats
	prom  *probe.SidecarMetrics
}

func readSidecars(ctx context.Context, rt *Runtime, o istiofx.Options) (sidecarSnapshot, error) {
	pods, err := istioBackendPods(ctx, rt, o)
	if err != nil {
		return nil, err
	}
	snap := sidecarSnapshot{}
	for _, p := range pods {
		key := p.Namespace + "/" + p.Name
		admin, err := rt.Sidecars.Admin(ctx, p.Namespace, p.Name)
		if err != nil {
			return nil, fmt.Errorf("sidecar admin of %s: %w", key, err)
		}
		st, err := probe.ReadStats(ctx, admin)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		body, err := admin.Get(ctx, probe.IstioSidecarMetricsPath)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", key, probe.IstioSidecarMetricsPath, err)
		}
		prom, err := probe.ParseSidecarMetrics(strings.NewReader(string(body)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		snap[key] = struct {
			stats probe.Stats
			prom  *probe.SidecarMetrics
		}{st, prom}
	}
	return snap, nil
}

// inboundHandshakes selects the sidecar's inbound listener TLS handshakes
// (Istio's virtualInbound listener, 0.0.0.0_15006).
var inboundHandshakes = probe.StatFilter{Contains: []string{"listener.", "15006"}, Suffix: ".ssl.handshake"}

// meshTrafficProbe waits until Kong routes (anything but its own 404), then
// sends Timeouts.Requests requests through Kong to the route's unguarded
// probe path, recording statuses, XFCC, and the backend sidecars'
// ssl.handshake and istio_requests_total deltas.
func meshTrafficProbe(o istiofx.Options, name string) Probe {
	return Probe{Name: "traffic through Kong with sidecar deltas", Run: func(ctx context.Context, rt *Runtime, ev *Evidence) error {
		url := strings.TrimRight(rt.Kong.ProxyURL, "/") + o.ProbePath
		if err := waitRouted(ctx, rt, url); err != nil {
			ev.Note(err.Error())
		}
		before, err := readSidecars(ctx, rt, o)
		if err != nil {
			return err
		}
		rep, err := probe.Traffic(ctx, rt.HTTP, probe.TrafficSpec{URL: url, N: rt.Timeouts.Requests, Timeout: rt.Timeouts.Request}, rt.Echo)
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(rt.Timeouts.StatsSettled):
		}
		after, err := readSidecars(ctx, rt, o)
		if err != nil {
			return err
		}
		ev.AddTraffic(name, rep)
		if ev.StatDeltas == nil {
			ev.StatDeltas = map[string][]probe.StatDelta{}
		}
		reqDelta := map[string]map[string]float64{}
		f := probe.RequestFilter{Reporter: "destination", DestinationService: o.ServiceHost()}
		for pod, a := range after {
			b, ok := before[pod]
			if !ok {
				ev.Note("pod " + pod + " appeared during the traffic window; its counters start from zero")
			}
			ev.StatDeltas[pod] = probe.Deltas(b.stats, a.stats, inboundHandshakes)
			if b.prom == nil {
				b.prom = &probe.SidecarMetrics{}
			}
			reqDelta[pod] = probe.SecurityPolicyDelta(b.prom, a.prom, f)
		}
		return ev.SetDetail(DetailIstioRequests, reqDelta)
	}}
}

// waitRouted polls until Kong answers url with something other than its own
// 404 ("no Route matched") three times in a row, or Converge passes.
func waitRouted(ctx context.Context, rt *Runtime, url string) error {
	deadline := time.Now().Add(rt.Timeouts.Converge)
	streak := 0
	for streak < 3 {
		rep, err := probe.Traffic(ctx, rt.HTTP, probe.TrafficSpec{URL: url, N: 1, Timeout: rt.Timeouts.Request}, nil)
		if err != nil {
			return err
		}
		if q := rep.Requests[0]; q.Status != 404 && q.Outcome != probe.OutcomeRefused {
			streak++
		} else {
			streak = 0
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("Kong did not route %s within %s (last: %s)", url, rt.Timeouts.Converge, rep.Summary())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(rt.Timeouts.Poll):
		}
	}
	return nil
}

// settlePlaintext waits until the outside client's result has been settle
// three times in a row (policy changes reach the proxies asynchronously), or
// Converge passes.
func settlePlaintext(ctx context.Context, rt *Runtime, url string, settle probe.Outcome) error {
	deadline, streak := time.Now().Add(rt.Timeouts.Converge), 0
	for streak < 3 && time.Now().Before(deadline) {
		if rt.Plaintext.Get(ctx, url, rt.Timeouts.Request).Outcome == settle {
			streak++
		} else {
			streak = 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(rt.Timeouts.Poll):
		}
	}
	return nil
}

// plaintextRequests records a quarter of Timeouts.Requests (at least five)
// fresh requests from the client outside the mesh.
func plaintextRequests(ctx context.Context, rt *Runtime, url string) []probe.RequestResult {
	var results []probe.RequestResult
	for i := 1; i <= max(rt.Timeouts.Requests/4, 5); i++ {
		res := rt.Plaintext.Get(ctx, url, rt.Timeouts.Request)
		res.Seq = i
		results = append(results, res)
	}
	return results
}

// plaintextProbe waits until the client's result has been `settle` three
// times in a row (a PeerAuthentication change propagates asynchronously), or
// Converge passes, then records Timeouts.Requests fresh requests.
func plaintextProbe(o istiofx.Options, url string, settle probe.Outcome) Probe {
	return Probe{Name: "plaintext client outside the mesh", Run: func(ctx context.Context, rt *Runtime, ev *Evidence) error {
		if err := settlePlaintext(ctx, rt, url, settle); err != nil {
			return err
		}
		before, err := readSidecars(ctx, rt, o)
		if err != nil {
			return err
		}
		results := plaintextRequests(ctx, rt, url)
		after, err := readSidecars(ctx, rt, o)
		if err != nil {
			return err
		}
		reqDelta := map[string]map[string]float64{}
		f := probe.RequestFilter{Reporter: "destination", DestinationService: o.ServiceHost()}
		for pod, a := range after {
			b := before[pod]
			if b.prom == nil {
				b.prom = &probe.SidecarMetrics{}
			}
			reqDelta[pod] = probe.SecurityPolicyDelta(b.prom, a.prom, f)
		}
		if err := ev.SetDetail(DetailIstioRequests, reqDelta); err != nil {
			return err
		}
		return ev.SetDetail(DetailPlaintext, results)
	}}
}
