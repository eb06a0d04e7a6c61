package lint

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

const (
	factRetries = "Kong's Service entity retries 5 times by default, settable per Service with konghq.com/retries [Kong Gateway Service " +
		"docs; Kong support: \"x-kong-proxy-latency exceeds the timeout\"]; an Istio VirtualService makes at most 1 + retries.attempts " +
		"requests [istio.io/api networking/v1alpha3/virtual_service.proto HTTPRetry]; a Kuma MeshRetry retries http.numRetries times " +
		"[kumahq/kuma 2.14.3 MeshRetry CRD]"
	factTimeouts = "Kong's read timeout is 60000 ms per upstream try by default, settable with konghq.com/read-timeout [Kong Gateway Service " +
		"docs]; Istio's perTryTimeout applies to the initial call and each retry [istio.io/api virtual_service.proto HTTPRetry]"
)

// meshRetry is one mesh retry policy for a Service: an Istio VirtualService
// HTTP route or a Kuma MeshRetry.
type meshRetry struct {
	vs       *Object // VirtualService or MeshRetry
	attempts int     // retries after the first try
	perTry   float64 // seconds, 0 when unset
	timeout  float64 // route timeout in seconds, 0 when unset
}

// meshRetries lists the VirtualService routes that apply inside the mesh
// (no gateways, or "mesh" among them) to svc and set retries.
func (m *Model) meshRetries(svc *Object) []meshRetry {
	var out []meshRetry
	for _, vs := range m.All(kVirtualService) {
		if gws := list(vs.Content, "spec", "gateways"); len(gws) > 0 && !slices.ContainsFunc(gws, func(g any) bool { return g == "mesh" }) {
			continue
		}
		match := false
		for _, h := range list(vs.Content, "spec", "hosts") {
			for _, s := range m.servicesForHost(vs.Namespace, fmt.Sprint(h)) {
				match = match || s == svc
			}
		}
		if !match {
			continue
		}
		for _, h := range list(vs.Content, "spec", "http") {
			a, ok := num(h, "retries", "attempts")
			if !ok || a <= 0 {
				continue
			}
			mr := meshRetry{vs: vs, attempts: int(a)}
			mr.perTry, _ = durationSeconds(str(h, "retries", "perTryTimeout"))
			mr.timeout, _ = durationSeconds(str(h, "timeout"))
			out = append(out, mr)
			break
		}
	}
	return append(out, m.kumaRetries(svc)...)
}

// kumaRetries lists MeshRetry policies whose to[] targets svc (kind Mesh, or
// MeshService by name) for every source (top-level targetRef kind Mesh or
// absent), with an explicit http.numRetries.
func (m *Model) kumaRetries(svc *Object) []meshRetry {
	w := m.workloadOf(svc)
	if !m.kumaInjected(svc.Namespace, w.Labels, w.Annotations) {
		return nil
	}
	mesh := m.kumaMeshName(svc.Namespace, w.Labels, w.Annotations)
	var out []meshRetry
	for _, p := range m.All(kKumaMeshRetry) {
		if l := p.Labels[lblKumaMesh]; l != mesh && (l != "" || mesh != "default") {
			continue
		}
		if k := str(p.Content, "spec", "targetRef", "kind"); k != "" && k != "Mesh" {
			continue
		}
		for _, to := range list(p.Content, "spec", "to") {
			if !kumaTargets(field(to, "targetRef"), svc) {
				continue
			}
			n, ok := num(to, "default", "http", "numRetries")
			if !ok || n <= 0 {
				continue
			}
			mr := meshRetry{vs: p, attempts: int(n)}
			mr.perTry, _ = durationSeconds(str(to, "default", "http", "perTryTimeout"))
			out = append(out, mr)
			break
		}
	}
	return out
}

func kumaTargets(ref any, svc *Object) bool {
	switch str(ref, "kind") {
	case "Mesh":
		return true
	case "MeshService":
		name, ns := str(ref, "name"), str(ref, "namespace")
		if name == svc.Name && (ns == "" || ns == svc.Namespace) {
			return true
		}
		return strings.HasPrefix(name, svc.Name+"_"+svc.Namespace+"_svc_")
	}
	return false
}

// kongSetting reads a per-Service Kong setting: the konghq.com annotation,
// else the KongIngress named by konghq.com/override (proxy.<field>).
func (m *Model) kongSetting(svc *Object, ann, proxyField string) (int, *Object, bool) {
	if v := strings.TrimSpace(svc.Annotations[ann]); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n, svc, true
		}
	}
	if name := svc.Annotations[annKongOverride]; name != "" {
		if ki := m.Get(kKongIngress, svc.Namespace, name); ki != nil {
			if n, ok := num(ki.Content, "proxy", proxyField); ok {
				return int(n), ki, true
			}
		}
	}
	return 0, nil, false
}

// meshedBackend is the Service the mesh policies apply to: the route's
// Service, or the target of a .mesh ExternalName bridge.
func (m *Model) meshedBackend(rt route) (*Object, *Object) {
	svc := m.Get(kService, rt.SvcNS, rt.SvcName)
	if svc == nil {
		return nil, nil
	}
	if name, ns, _, ok := parseMeshHost(str(svc.Content, "spec", "externalName")); ok {
		if target := m.Get(kService, ns, name); target != nil {
			return svc, target
		}
	}
	return svc, svc
}

// MG013: retries at both layers.
func ruleDoubleRetries() Rule {
	return Rule{
		ID: "MG013", Severity: SeverityWarning,
		Title: "Retries at both the gateway and the mesh",
		Help:  "Kong's retries and the mesh's retries multiply: (1 + Kong retries) × (1 + mesh retries) requests hit a failing backend.",
		Fact:  factRetries,
		check: checkDoubleRetries,
	}
}

func checkDoubleRetries(m *Model, r Rule) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, rt := range m.kongRoutes() {
		kongSvc, backend := m.meshedBackend(rt)
		if backend == nil {
			continue
		}
		k, src, set := m.kongSetting(kongSvc, annKongRetries, "retries")
		how := "Kong's default, no konghq.com/retries on " + kongSvc.Ref().String()
		if set {
			how = "set on " + src.Ref().String()
		} else {
			k = kongDefaultRetries
		}
		if k <= 0 {
			continue
		}
		for _, mr := range m.meshRetries(backend) {
			key := rt.Obj.Ref().String() + mr.vs.Ref().String()
			if seen[key] {
				continue
			}
			seen[key] = true
			total := (k + 1) * (mr.attempts + 1)
			msg := fmt.Sprintf("%s: Kong retries %s up to %d times (%s) and %s retries it up to %d times "+
				"in the mesh: one failing request becomes up to %d requests ((1+%d)×(1+%d)) against a backend that is already "+
				"failing. Fix: retry in one layer: konghq.com/retries: \"0\" on %s, or remove the retries from %s.",
				rt.Obj.Ref(), backend.Ref(), k, how, mr.vs.Ref(), mr.attempts, total, k, mr.attempts, kongSvc.Ref(), mr.vs.Ref())
			out = append(out, r.finding(SeverityWarning, rt.Obj, msg, kongSvc, mr.vs))
		}
	}
	return out
}

// MG014: Kong gives up before the mesh's retry budget is spent.
func ruleTimeoutBudget() Rule {
	return Rule{
		ID: "MG014", Severity: SeverityWarning,
		Title: "Gateway timeout shorter than the mesh's attempts × per-try timeout",
		Help: "Kong times out (504) while the mesh is still retrying; the later mesh attempts are wasted load and Kong may retry " +
			"on top of them.",
		Fact:  factTimeouts,
		check: checkTimeoutBudget,
	}
}

func checkTimeoutBudget(m *Model, r Rule) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, rt := range m.kongRoutes() {
		kongSvc, backend := m.meshedBackend(rt)
		if backend == nil {
			continue
		}
		ms, src, set := m.kongSetting(kongSvc, annKongReadTimeout, "read_timeout")
		how := "Kong's default"
		if set {
			how = "set on " + src.Ref().String()
		} else {
			ms = kongDefaultReadMs
		}
		for _, mr := range m.meshRetries(backend) {
			if mr.perTry == 0 {
				continue
			}
			budget := float64(mr.attempts+1) * mr.perTry
			if mr.timeout > 0 && mr.timeout < budget {
				budget = mr.timeout
			}
			key := rt.Obj.Ref().String() + mr.vs.Ref().String()
			if float64(ms)/1000 >= budget || seen[key] {
				continue
			}
			seen[key] = true
			msg := fmt.Sprintf("%s: Kong's read timeout for %s is %d ms (%s), but %s allows (1 + %d retries) × "+
				"perTryTimeout %gs = %gs for %s: Kong answers 504 while the mesh is still retrying. Fix: raise konghq.com/read-timeout "+
				"on %s above %d ms, or lower the mesh's attempts or perTryTimeout.",
				rt.Obj.Ref(), kongSvc.Ref(), ms, how, mr.vs.Ref(), mr.attempts, mr.perTry, budget, backend.Ref(), kongSvc.Ref(), int(budget*1000))
			out = append(out, r.finding(SeverityWarning, rt.Obj, msg, kongSvc, mr.vs))
		}
	}
	return out
}
