package scenarios

import (
	"fmt"
	"sort"
	"strings"

	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/fixtures/kuma"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/probe"
)

// Kuma scenario IDs.
const (
	KumaPodIP502       = "kuma-podip-502"
	KumaBridge         = "kuma-externalname-bridge"
	KumaServiceUpstrm  = "kuma-service-upstream"
	KumaNegativeCtrl   = "kuma-negative-control"
	trafficThroughKong = "through-kong"
	// ReproduceThreshold: the share of requests that must fail for the bug
	// to count as reproduced.
	ReproduceThreshold = 0.95
)

// What Kong's targets must be in each step.
var (
	podIPs      = TargetWant{Kind: probe.TargetPodIP, Port: "8080"}
	bridge80    = TargetWant{Kind: probe.TargetHostname, Host: kuma.HostMeshPort, Port: "80"}
	serviceHost = TargetWant{Kind: probe.TargetHostname, Host: kuma.Backend + "." + kuma.Namespace + ".svc", Port: "8080"}
)

func init() { register(MeshKuma, Kuma) }

// Kuma returns the Kuma scenarios in story order: the bug, the two fixes,
// the negative control.
func Kuma(cfg Config) []Scenario {
	base := kuma.Defaults()
	if cfg.EchoImage != "" {
		base.Image = cfg.EchoImage
	}
	set := func(name string) fixtures.Set {
		s, err := kuma.Variant(base, name)
		if err != nil {
			panic(err) // the variant names are constants of fixtures/kuma; a test covers them
		}
		return s
	}
	requires := []Requirement{RequiresDocker, RequiresKong, RequiresKongAdmin, RequiresSidecarStat}
	return []Scenario{
		{
			ID:          KumaPodIP502,
			Description: "Kong load-balances check-in-ingress to check-in-api's Pod IPs; the gateway's sidecar passes that traffic through as plaintext and the STRICT backend rejects it (502)",
			Mesh:        MeshKuma, Labels: []string{"kuma", LabelReproduce, LabelMTLS}, Requires: requires,
			Phases: []Phase{reproducePodIP(set(kuma.VariantPodIP502)), trapPhase(set(kuma.VariantTrap))},
		},
		{
			ID:          KumaBridge,
			Description: "the seed guide's fix: an ExternalName bridge to check-in-api's Kuma mesh hostname; Kong targets the VIP, the gateway sidecar upgrades to mTLS",
			Mesh:        MeshKuma, Labels: []string{"kuma", LabelFix, LabelMTLS}, Requires: requires,
			Phases: []Phase{
				{
					Kind: PhaseFix, Name: "fix: route check-in-ingress to the bridge " + kuma.Bridge + " (" + kuma.HostMeshPort + ", port 80)",
					Apply:  []fixtures.Set{set(kuma.VariantBridge)},
					Probes: []Probe{ProbeServices(kuma.Namespace, kuma.Bridge), ProbeKongTargets(kuma.Namespace, kuma.Route, kuma.Bridge, bridge80)},
					Expect: []Expectation{kongTargets(bridge80)},
				},
				verifyMTLS("verify: every request 200 over mTLS with Kong's SPIFFE identity", kuma.Bridge, bridge80),
				explore("explore: the seed's route port 8080 on the bridge", set(kuma.VariantBridgePort8080),
					TargetWant{probe.TargetHostname, kuma.HostMeshPort, "8080"}, "bridge on port 8080 (Kuma's VIP listens on 80)"),
				explore("explore: the seed's hostname "+kuma.HostSeed, set(kuma.VariantBridgeSeedHost),
					TargetWant{probe.TargetHostname, kuma.HostSeed, "8080"}, "bridge to "+kuma.HostSeed+" (Kubernetes-mode Kuma serves .svc.<port>.mesh)"),
			},
		},
		{
			ID:          KumaServiceUpstrm,
			Description: "the other fix: Kong's ingress.kubernetes.io/service-upstream on check-in-api, so Kong targets the Service and the gateway sidecar upgrades to mTLS",
			Mesh:        MeshKuma, Labels: []string{"kuma", LabelReproduce, LabelFix, LabelMTLS}, Requires: requires,
			Phases: []Phase{
				reproducePodIP(set(kuma.VariantPodIP502)),
				{
					Kind: PhaseFix, Name: "fix: annotate check-in-api with ingress.kubernetes.io/service-upstream",
					Apply:  []fixtures.Set{set(kuma.VariantServiceUpstream)},
					Probes: []Probe{ProbeServices(kuma.Namespace, kuma.Backend), ProbeKongTargets(kuma.Namespace, kuma.Route, kuma.Backend, serviceHost)},
					Expect: []Expectation{annotated(kuma.Backend, true), kongTargets(serviceHost)},
				},
				verifyMTLS("verify: every request 200 over mTLS with Kong's SPIFFE identity", kuma.Backend, serviceHost),
			},
		},
		negativeControl(set),
	}
}

// reproducePodIP proves the preconditions, then the failure.
func reproducePodIP(s fixtures.Set) Phase {
	return Phase{
		Kind: PhaseReproduce, Name: "reproduce: Kong to check-in-api's Pod IPs under STRICT mTLS fails",
		Apply: []fixtures.Set{s},
		Probes: []Probe{
			ProbeServices(kuma.Namespace, kuma.Backend),
			ProbePods(kuma.Namespace, kuma.Backend, kuma.SidecarName),
			ProbeKongTargets(kuma.Namespace, kuma.Route, kuma.Backend, podIPs),
			ProbeKongConfig(),
			ProbeTrafficThroughKong(trafficThroughKong, "/check-in"),
		},
		Expect: []Expectation{
			annotated(kuma.Backend, false),
			sidecars(),
			kongTargets(podIPs),
			{Name: "Kong's connections reached the backend sidecars", Kind: Precondition, Check: func(ev *Evidence) error {
				if n := sum(ev, statAccepted); n <= 0 {
					return fmt.Errorf("backend listeners accepted %d connections during the traffic: the failures come from somewhere else (Kong route? DNS?); see the traffic transcript", n)
				}
				return nil
			}},
			{Name: fmt.Sprintf("at least %.0f%% of requests end in 502 or a reset", ReproduceThreshold*100), Kind: Claim, Check: func(ev *Evidence) error {
				r := ev.Traffic[trafficThroughKong]
				if f := r.Fraction(probe.Outcome502, probe.OutcomeReset); f < ReproduceThreshold {
					return fmt.Errorf("%.0f%% failed as expected (%s)", f*100, r.Summary())
				}
				return nil
			}},
			{Name: "no TLS handshake on the backend's inbound", Kind: Claim, Check: func(ev *Evidence) error {
				if n := sum(ev, statHandshake); n != 0 {
					return fmt.Errorf("backend sidecars counted %d TLS handshakes: something reached them over mTLS", n)
				}
				return nil
			}},
			{Name: "the backend sidecars counted plaintext rejections", Kind: Claim, Check: func(ev *Evidence) error {
				var n int64
				for _, f := range statPlaintextRejected {
					n += sum(ev, f)
				}
				if n <= 0 {
					return fmt.Errorf("ssl.connection_error + no_filter_chain_match on the backend's inbound listener moved by %d", n)
				}
				return nil
			}},
		},
	}
}

// trapPhase shows why a naive reproduction passes: Kuma annotates Services
// in labelled namespaces by itself.
func trapPhase(s fixtures.Set) Phase {
	return Phase{
		Kind: PhaseExplore, Name: "explore: in a namespace labelled for injection, Kuma adds service-upstream by itself",
		Apply:  []fixtures.Set{s},
		Probes: []Probe{ProbeAnnotationAppears(kuma.TrapNamespace, kuma.Backend, kuma.AnnotationUpstream)},
		Expect: []Expectation{{Name: "Kuma's service controller and the namespace label", Kind: Finding, Check: func(ev *Evidence) error {
			for _, s := range ev.Services {
				if s.Namespace == kuma.TrapNamespace && s.Name == kuma.Backend {
					if s.Annotations[kuma.AnnotationUpstream] == "true" {
						return fmt.Errorf("Kuma annotated %s/%s with %s=true although meshgate did not: with the namespace labelled, Kong targets the Service and the Pod-IP 502 never shows; the reproduction labels only the pod template", s.Namespace, s.Name, kuma.AnnotationUpstream)
					}
					return fmt.Errorf("Kuma did not annotate %s/%s within the converge timeout (annotations %v): this Kuma does not hide the bug this way", s.Namespace, s.Name, s.Annotations)
				}
			}
			return fmt.Errorf("the trap Service was not recorded")
		}}},
	}
}

// verifyMTLS runs the same probes as the reproduction and expects the fix.
func verifyMTLS(name, backend string, want TargetWant) Phase {
	return Phase{
		Kind: PhaseVerify, Name: name,
		Probes: []Probe{
			ProbePods(kuma.Namespace, kuma.Backend, kuma.SidecarName),
			ProbeKongTargets(kuma.Namespace, kuma.Route, backend, want),
			ProbeKongConfig(),
			ProbeTrafficThroughKong(trafficThroughKong, "/check-in"),
		},
		Expect: []Expectation{
			sidecars(),
			kongTargets(want),
			{Name: "every request answered 200 by a check-in-api pod", Kind: Claim, Check: func(ev *Evidence) error {
				r := ev.Traffic[trafficThroughKong]
				if r.Outcomes[probe.OutcomeOK] != len(r.Requests) || len(r.Requests) == 0 {
					return fmt.Errorf("%s", r.Summary())
				}
				for _, q := range r.Requests {
					if !strings.HasPrefix(q.Pod, kuma.Namespace+"/"+kuma.Backend+"-") {
						return fmt.Errorf("request %d answered by %q, not a %s pod (%s)", q.Seq, q.Pod, kuma.Backend, q.Error)
					}
				}
				return nil
			}},
			{Name: "the backend saw Kong's SPIFFE identity in X-Forwarded-Client-Cert on every request", Kind: Claim, Check: func(ev *Evidence) error {
				r := ev.Traffic[trafficThroughKong]
				if len(r.Requests) == 0 {
					return fmt.Errorf("no requests recorded")
				}
				for _, q := range r.Requests {
					if q.Outcome == probe.OutcomeOK && q.XFCC == "" {
						return fmt.Errorf("request %d reached the backend without XFCC: not over mTLS", q.Seq)
					}
				}
				if len(ev.XFCC) == 0 {
					return fmt.Errorf("no request reached the backend with XFCC (%s)", r.Summary())
				}
				for _, x := range ev.XFCC {
					if x.Error != "" {
						return fmt.Errorf("XFCC %q: %s", x.Raw, x.Error)
					}
					ok := false
					for _, id := range x.SPIFFE {
						ok = ok || kongIdentity(id, cluster.KongNamespace)
					}
					if !ok {
						return fmt.Errorf("XFCC caller IDs %v name no workload of namespace %s (Kong)", x.SPIFFE, cluster.KongNamespace)
					}
				}
				return nil
			}},
			{Name: "the backend's inbound counted TLS handshakes", Kind: Claim, Check: func(ev *Evidence) error {
				if n := sum(ev, statHandshake); n < 1 {
					return fmt.Errorf("ssl.handshake moved by %d on the backend sidecars", n)
				}
				return nil
			}},
			{Name: "handshakes per request", Kind: Finding, Check: func(ev *Evidence) error {
				n, reqs := sum(ev, statHandshake), len(ev.Traffic[trafficThroughKong].Requests)
				pool := "unknown"
				if ev.Kong != nil && ev.Kong.UpstreamKeepalivePoolSize != nil {
					pool = fmt.Sprint(*ev.Kong.UpstreamKeepalivePoolSize)
				}
				return fmt.Errorf("%d handshakes for %d requests with Kong's upstream_keepalive_pool_size=%s (the gateway sidecar pools its own upstream connections, so fewer handshakes than requests is expected)", n, reqs, pool)
			}},
		},
	}
}

// explore applies a guide's variant and reports what traffic does.
func explore(name string, s fixtures.Set, want TargetWant, what string) Phase {
	return Phase{
		Kind: PhaseExplore, Name: name, Apply: []fixtures.Set{s},
		Probes: []Probe{
			ProbePods(kuma.Namespace, kuma.Backend, kuma.SidecarName),
			ProbeKongTargets(kuma.Namespace, kuma.Route, kuma.Bridge, want),
			ProbeTrafficThroughKong(trafficThroughKong, "/check-in"),
		},
		Expect: []Expectation{{Name: what, Kind: Finding, Check: func(ev *Evidence) error {
			r := ev.Traffic[trafficThroughKong]
			var targets []string
			for _, t := range ev.Targets {
				targets = append(targets, t.Target)
			}
			first := ""
			for _, q := range r.Requests {
				if q.Outcome != probe.OutcomeOK {
					first = fmt.Sprintf("; first failure: status %d %s", q.Status, q.Error)
					break
				}
			}
			return fmt.Errorf("Kong targets %v; %s; %d TLS handshakes at the backend%s", targets, r.Summary(), sum(ev, statHandshake), first)
		}}},
	}
}

func annotated(service string, want bool) Expectation {
	name := service + " carries no " + kuma.AnnotationUpstream + " annotation (nothing masks the bug)"
	if want {
		name = service + " carries " + kuma.AnnotationUpstream + `: "true"`
	}
	return Expectation{Name: name, Kind: Precondition, Check: func(ev *Evidence) error {
		for _, s := range ev.Services {
			if s.Name != service {
				continue
			}
			v, ok := s.Annotations[kuma.AnnotationUpstream]
			if ok != want {
				return fmt.Errorf("Service %s/%s annotations %v", s.Namespace, s.Name, s.Annotations)
			}
			if want && v != "true" {
				return fmt.Errorf("%s=%q, want \"true\"", kuma.AnnotationUpstream, v)
			}
			return nil
		}
		return fmt.Errorf("Service %s was not recorded", service)
	}}
}

func sidecars() Expectation {
	return Expectation{Name: "every check-in-api pod runs the " + kuma.SidecarName, Kind: Precondition, Check: func(ev *Evidence) error {
		pods := backendPods(ev)
		if len(pods) == 0 {
			return fmt.Errorf("no check-in-api pods recorded")
		}
		for _, p := range pods {
			if !p.Sidecar || !p.Ready {
				return fmt.Errorf("pod %s/%s: sidecar %v, ready %v, containers %v (is Kuma's injector running?)", p.Namespace, p.Name, p.Sidecar, p.Ready, p.Containers)
			}
		}
		return nil
	}}
}

// kongTargets: every target Kong has for the route is what want says.
func kongTargets(want TargetWant) Expectation {
	return Expectation{Name: "Kong targets only " + want.String(), Kind: Precondition, Check: func(ev *Evidence) error {
		if len(ev.Targets) == 0 {
			var names []string
			for _, u := range ev.Upstreams {
				names = append(names, u.Upstream)
			}
			sort.Strings(names)
			return fmt.Errorf("no Kong target for route %s; upstreams: %v", kuma.Route, names)
		}
		if !want.holds(ev.Targets) {
			return fmt.Errorf("Kong targets %v, want all %s", ev.Targets, want)
		}
		return nil
	}}
}

func negativeControl(set func(string) fixtures.Set) Scenario {
	rejected := func(name string) Expectation {
		return Expectation{Name: "plaintext to the " + name + " is rejected", Kind: Claim, Check: func(ev *Evidence) error {
			r, ok := ev.Traffic["plaintext-"+name]
			if !ok || len(r.Requests) == 0 {
				return fmt.Errorf("no plaintext requests to the %s recorded", name)
			}
			if n := r.Outcomes[probe.OutcomeOK]; n > 0 {
				return fmt.Errorf("%d of %d plaintext requests were answered: STRICT is not enforced (%s)", n, len(r.Requests), r.Summary())
			}
			return nil
		}}
	}
	reached := func(name string) Expectation {
		return Expectation{Name: "plaintext to the " + name + " reaches check-in-api", Kind: Claim, Check: func(ev *Evidence) error {
			r := ev.Traffic["plaintext-"+name]
			if len(r.Requests) == 0 || r.Outcomes[probe.OutcomeOK] != len(r.Requests) {
				return fmt.Errorf("the control failed, so the rejections above prove nothing: %s", r.Summary())
			}
			return nil
		}}
	}
	outside := Expectation{Name: "the client pod runs outside the mesh", Kind: Precondition, Check: func(ev *Evidence) error {
		for _, p := range ev.Pods {
			if p.Namespace == kuma.ClientNS {
				if p.Sidecar || !p.Ready {
					return fmt.Errorf("client %s/%s: sidecar %v, ready %v", p.Namespace, p.Name, p.Sidecar, p.Ready)
				}
				return nil
			}
		}
		return fmt.Errorf("client pod not recorded")
	}}
	yes, no := true, false
	probes := func(until *bool) []Probe {
		return []Probe{
			ProbePods(kuma.ClientNS, kuma.ClientApp, kuma.SidecarName),
			ProbePods(kuma.Namespace, kuma.Backend, kuma.SidecarName),
			ProbePlaintext(kuma.Namespace, kuma.Backend, kuma.BackendPort, until),
		}
	}
	strict := func(kind PhaseKind, name string) Phase {
		return Phase{
			Kind: kind, Name: name, Apply: []fixtures.Set{set(kuma.VariantNegativeStrict)}, Probes: probes(&no),
			Expect: []Expectation{outside, sidecars(), rejected("pod-ip"), rejected("cluster-ip")},
		}
	}
	return Scenario{
		ID:          KumaNegativeCtrl,
		Description: "a plaintext client outside the mesh is rejected at check-in-api's Pod IP and ClusterIP under STRICT, and reaches it under PERMISSIVE: the check can tell the difference",
		Mesh:        MeshKuma, Labels: []string{"kuma", LabelMTLS, LabelNegative},
		Requires: []Requirement{RequiresDocker, RequiresClient},
		Phases: []Phase{
			strict(PhaseVerify, "verify: STRICT rejects plaintext from outside the mesh"),
			{
				Kind: PhaseVerify, Name: "control: the same client reaches a PERMISSIVE backend",
				Apply: []fixtures.Set{set(kuma.VariantNegativePermissiv)}, Probes: probes(&yes),
				Expect: []Expectation{outside, sidecars(), reached("pod-ip"), reached("cluster-ip")},
			},
			strict(PhaseVerify, "verify: STRICT restored rejects plaintext again"),
		},
	}
}
