package lint

import (
	"fmt"
	"strings"
)

const (
	factKongPodIP = "Kong: KIC forwards to Pod IPs unless the Service has ingress.kubernetes.io/service-upstream: \"true\" [KIC annotation reference]; " +
		"Istio: sidecars only work for requests sent to Services, not Pod IPs [istio.io, Third Party Load Balancers], unless " +
		"the Host names the Service (the sidecar routes HTTP by Host; Kong sends konghq.com/host-header only with konghq.com/preserve-host: \"false\"); " +
		"Kuma: Pod-IP traffic bypasses the VIP and leaves the gateway sidecar as plaintext passthrough [Kuma \"Kong Gateway\" docs; kumahq/kuma e2e test/e2e_env/kubernetes/kic]"
	factKumaAutoAnnotation = "Kuma's service controller adds ingress.kubernetes.io/service-upstream: \"true\" to every Service in a namespace labelled " +
		"kuma.io/sidecar-injection: enabled, except ExternalName Services and Services annotated kuma.io/ignore: \"true\" " +
		"[kumahq/kuma pkg/plugins/runtime/k8s/controllers/service_controller.go]"
	factMeshNames = "Kuma on Kubernetes serves <svc>_<ns>_svc_<port>.mesh and <svc>.<ns>.svc.<port>.mesh; .svc.mesh.local exists only for Universal " +
		"MeshServices and other zones [kumahq/kuma pkg/xds/topology/dns.go, pkg/defaults/hostname_generator.go]"
	factVIPPort = "Kuma's VIP outbound listens on port 80 only (serviceVipPort); Kuma documents the ExternalName bridge with port 80 as a placeholder " +
		"[kumahq/kuma pkg/xds/topology/dns.go; Kuma \"Kong Gateway\" docs]"
)

// MG001: the Pod-IP 502.
func rulePodIP() Rule {
	return Rule{
		ID: "MG001", Severity: SeverityError,
		Title: "Kong routes to a STRICT mTLS backend by Pod IP",
		Help: "Kong load-balances to Pod IPs unless the Service says service-upstream. Pod-IP traffic bypasses the mesh's Service " +
			"routing, leaves Kong's sidecar as plaintext (or comes from an unmeshed Kong) and a STRICT backend resets it: 502.",
		Fact:  factKongPodIP,
		check: checkPodIP,
	}
}

func checkPodIP(m *Model, r Rule) []Finding {
	var out []Finding
	for _, rt := range m.kongRoutes() {
		svc := m.Get(kService, rt.SvcNS, rt.SvcName)
		if svc == nil || str(svc.Content, "spec", "type") == "ExternalName" || truthy(svc.Annotations[annServiceUpstream]) {
			continue
		}
		t := m.backendMTLS(svc)
		if t.Mesh == MeshNone || (t.Mode != "STRICT" && t.Mode != "") {
			continue
		}
		if t.Mesh == MeshKuma && m.kumaNamespace(svc.Namespace) && !truthy(svc.Annotations[annKumaIgnore]) {
			continue // MG002: Kuma adds the annotation on the cluster
		}
		if t.Mesh == MeshIstio && kongSendsServiceHost(rt, svc) {
			continue // Kong's sidecar routes by that Host to the Service's cluster (mTLS)
		}
		sev, state := SeverityError, fmt.Sprintf("%s mTLS is STRICT for it (%s)", t.Mesh, t.Detail)
		if t.Mode == "" {
			sev = SeverityWarning
			state = fmt.Sprintf("its pods are in a %s mesh whose mTLS mode the inputs do not show (%s); if it is STRICT", t.Mesh, t.Detail)
		}
		why := ""
		switch {
		case t.Mesh == MeshKuma && truthy(svc.Annotations[annKumaIgnore]):
			why = fmt.Sprintf(" %s is annotated kuma.io/ignore, so Kuma's service controller does not add service-upstream for you.", svc.Ref())
		case t.Mesh == MeshKuma:
			why = fmt.Sprintf(" Namespace %s is not labelled kuma.io/sidecar-injection: enabled (pods are injected one by one), so Kuma's service controller does not add service-upstream for you.", svc.Namespace)
		}
		fix := fmt.Sprintf("annotate %s with ingress.kubernetes.io/service-upstream: \"true\"", svc.Ref())
		if t.Mesh == MeshIstio {
			fix += ", plus " + istioHostFix(rt, svc)
		}
		if t.Mesh == MeshKuma {
			fix += fmt.Sprintf(", or route to an ExternalName bridge with externalName %s.%s.svc.%s.mesh on port 80", svc.Name, svc.Namespace, firstPort(svc))
		}
		msg := fmt.Sprintf("%s routes to %s by Pod IP (no ingress.kubernetes.io/service-upstream, not an ExternalName bridge) "+
			"while %s: the request bypasses the mesh's Service routing, arrives as plaintext and the backend "+
			"sidecar resets it (502).%s Fix: %s.", rt.Obj.Ref(), svc.Ref(), state, why, fix)
		out = append(out, r.finding(sev, rt.Obj, msg, svc, t.Policy))
	}
	return out
}

func firstPort(svc *Object) string {
	if ps := list(svc.Content, "spec", "ports"); len(ps) > 0 {
		if n, ok := num(ps[0], "port"); ok {
			return fmt.Sprint(int(n))
		}
	}
	return "<port>"
}

// MG002: relies on Kuma's auto-annotation.
func ruleAutoAnnotation() Rule {
	return Rule{
		ID: "MG002", Severity: SeverityInfo,
		Title: "Kong routing works only because Kuma adds service-upstream on the cluster",
		Help: "The manifest lacks ingress.kubernetes.io/service-upstream, but Kuma adds it to every Service in a namespace labelled for " +
			"injection. Marking the Service kuma.io/ignore or moving to per-pod injection silently turns this into the Pod-IP 502 (MG001).",
		Fact:  factKumaAutoAnnotation,
		check: checkAutoAnnotation,
	}
}

func checkAutoAnnotation(m *Model, r Rule) []Finding {
	var out []Finding
	for _, rt := range m.kongRoutes() {
		svc := m.Get(kService, rt.SvcNS, rt.SvcName)
		if svc == nil || str(svc.Content, "spec", "type") == "ExternalName" || truthy(svc.Annotations[annServiceUpstream]) ||
			truthy(svc.Annotations[annKumaIgnore]) || !m.kumaNamespace(svc.Namespace) {
			continue
		}
		if t := m.backendMTLS(svc); t.Mesh != MeshKuma {
			continue
		}
		msg := fmt.Sprintf("%s routes to %s, which has no ingress.kubernetes.io/service-upstream in the manifest: on the cluster "+
			"Kuma's service controller adds it because namespace %s is labelled kuma.io/sidecar-injection: enabled, so Kong uses the "+
			"ClusterIP and mTLS works. Adding kuma.io/ignore to the Service or dropping the namespace label brings back the Pod-IP 502. "+
			"Fix: state it in the manifest: ingress.kubernetes.io/service-upstream: \"true\" on %s.", rt.Obj.Ref(), svc.Ref(), svc.Namespace, svc.Ref())
		out = append(out, r.finding(SeverityInfo, rt.Obj, msg, svc))
	}
	return out
}

// MG003: ExternalName bridge to a name the mesh does not serve.
func ruleBridgeName() Rule {
	return Rule{
		ID: "MG003", Severity: SeverityError,
		Title: "ExternalName bridge targets a name Kuma does not serve",
		Help: "On Kubernetes, Kuma's DNS answers <svc>.<ns>.svc.<port>.mesh and <svc>_<ns>_svc_<port>.mesh with a VIP. " +
			"<svc>.<ns>.svc.mesh.local (used by a published Kong Mesh guide) is a Universal/cross-zone name and does not resolve to the local Service.",
		Fact:  factMeshNames,
		check: checkBridgeName,
	}
}

func checkBridgeName(m *Model, r Rule) []Finding {
	var out []Finding
	for _, svc := range m.All(kService) {
		host := strings.TrimSuffix(strings.ToLower(str(svc.Content, "spec", "externalName")), ".")
		if str(svc.Content, "spec", "type") != "ExternalName" || host == "" {
			continue
		}
		isLocal := strings.HasSuffix(host, ".mesh.local")
		if _, _, _, ok := parseMeshHost(host); ok || !(isLocal || strings.HasSuffix(host, ".mesh")) {
			continue
		}
		want := suggestMeshHost(m, host)
		why := "it does not have the form <svc>.<ns>.svc.<port>.mesh or <svc>_<ns>_svc_<port>.mesh"
		if isLocal {
			why = ".mesh.local names exist only for Universal MeshServices and Services synced from other zones, not for a Service in this Kubernetes zone"
		}
		msg := fmt.Sprintf("ExternalName %s points at %q, which Kuma's DNS does not serve on Kubernetes: %s. Kong cannot resolve "+
			"the bridge (or reaches something else). Fix: set spec.externalName to %s and route to it on port 80.", svc.Ref(), host, why, want)
		out = append(out, r.finding(SeverityError, svc, msg))
	}
	return out
}

// suggestMeshHost turns <svc>.<ns>.svc[...] into <svc>.<ns>.svc.<port>.mesh,
// using the target Service's first port when the inputs hold it.
func suggestMeshHost(m *Model, host string) string {
	parts := strings.Split(host, ".")
	if len(parts) >= 3 && parts[2] == "svc" {
		port := "80"
		if target := m.Get(kService, parts[1], parts[0]); target != nil {
			port = firstPort(target)
		}
		return fmt.Sprintf("%s.%s.svc.%s.mesh", parts[0], parts[1], port)
	}
	return "<svc>.<ns>.svc.<port>.mesh"
}

// MG004: bridge to a Service (or port) that does not exist.
func ruleBridgeTarget() Rule {
	return Rule{
		ID: "MG004", Severity: SeverityError,
		Title: "ExternalName bridge points at a Service or port that does not exist",
		Help: "The mesh name encodes the target Service, its namespace and its port; Kuma serves it only for an existing Service port. " +
			"Checked only when the inputs contain the target namespace.",
		Fact:  factMeshNames,
		check: checkBridgeTarget,
	}
}

func checkBridgeTarget(m *Model, r Rule) []Finding {
	var out []Finding
	for _, svc := range m.All(kService) {
		name, ns, port, ok := parseMeshHost(str(svc.Content, "spec", "externalName"))
		if str(svc.Content, "spec", "type") != "ExternalName" || !ok {
			continue
		}
		target := m.Get(kService, ns, name)
		switch {
		case target == nil && m.knowsNamespace(ns):
			msg := fmt.Sprintf("ExternalName %s points at %s, but there is no Service %s/%s in the inputs: Kuma serves no VIP for it "+
				"and Kong gets a DNS failure (503). Fix: correct the service or namespace part of spec.externalName, or create Service %s/%s.",
				svc.Ref(), str(svc.Content, "spec", "externalName"), ns, name, ns, name)
			out = append(out, r.finding(SeverityError, svc, msg))
		case target != nil && servicePort(target, port, "") == nil:
			msg := fmt.Sprintf("ExternalName %s points at %s, but %s has no port %d (it has %s): Kuma serves no such name. "+
				"Fix: use %s.%s.svc.%s.mesh.", svc.Ref(), str(svc.Content, "spec", "externalName"), target.Ref(), port, portList(target),
				name, ns, firstPort(target))
			out = append(out, r.finding(SeverityError, svc, msg, target))
		}
	}
	return out
}

func portList(svc *Object) string {
	var ps []string
	for _, p := range list(svc.Content, "spec", "ports") {
		n, _ := num(p, "port")
		ps = append(ps, fmt.Sprint(int(n)))
	}
	if len(ps) == 0 {
		return "no ports"
	}
	return strings.Join(ps, ", ")
}

// MG005: route to a .mesh bridge on a port other than 80.
func ruleBridgePort() Rule {
	return Rule{
		ID: "MG005", Severity: SeverityError,
		Title: "Route to a .mesh ExternalName bridge on a port other than 80",
		Help: "Kong connects to <mesh VIP>:<route port>. Kuma's outbound listener on the VIP is port 80 only, so any other port " +
			"misses it and the connection is not upgraded to mTLS.",
		Fact:  factVIPPort,
		check: checkBridgePort,
	}
}

func checkBridgePort(m *Model, r Rule) []Finding {
	var out []Finding
	for _, rt := range m.kongRoutes() {
		svc := m.Get(kService, rt.SvcNS, rt.SvcName)
		if svc == nil || str(svc.Content, "spec", "type") != "ExternalName" {
			continue
		}
		host := str(svc.Content, "spec", "externalName")
		if _, _, _, ok := parseMeshHost(host); !ok {
			continue
		}
		port := rt.Port
		if port == 0 {
			if p := servicePort(svc, 0, rt.PortName); p != nil {
				n, _ := num(p, "port")
				port = int(n)
			}
		}
		if port == 0 || port == 80 {
			continue
		}
		msg := fmt.Sprintf("%s routes to %s (%s) on port %d: Kuma's VIP listens on port 80 only, so Kong's "+
			"connection to VIP:%d misses the mesh outbound listener and is not carried over mTLS. Fix: use port 80 in the route "+
			"(and the bridge Service), whatever port the backend listens on.", rt.Obj.Ref(), svc.Ref(), host, port, port)
		out = append(out, r.finding(SeverityError, rt.Obj, msg, svc))
	}
	return out
}

const factHostHeader = "KIC creates every Ingress and HTTPRoute route with preserve_host=true unless the route says konghq.com/preserve-host: " +
	"\"false\" [KIC v3.5.13 internal/dataplane/translator/subtranslator/httproute.go, ingress.go; kongstate/route.go overridePreserveHost]; " +
	"Kong's balancer leaves the client's Host alone while preserve_host is set and only otherwise sends the upstream's host_header " +
	"(konghq.com/host-header), else the target's name [Kong 3.9.1 kong/runloop/balancer/init.lua set_host_header]; an Istio sidecar " +
	"routes outbound HTTP by Host, and a Host it has no virtual host for goes to PassthroughCluster, which is plaintext " +
	"[Istio outbound traffic policy ALLOW_ANY]"

// MG015: service-upstream toward Istio without a Host Istio knows.
func ruleHostHeader() Rule {
	return Rule{
		ID: "MG015", Severity: SeverityError,
		Title: "Kong targets an Istio Service but sends the client's Host",
		Help: "With service-upstream Kong connects to the ClusterIP, but KIC keeps the client's Host header (preserve_host) and Kong " +
			"ignores konghq.com/host-header until the route sets konghq.com/preserve-host: \"false\". Kong's Istio sidecar routes " +
			"HTTP by Host, finds no Service for it and passes the request through as plaintext: STRICT resets it, PERMISSIVE accepts " +
			"it without mTLS.",
		Fact:  factHostHeader,
		check: checkHostHeader,
	}
}

func checkHostHeader(m *Model, r Rule) []Finding {
	var out []Finding
	for _, rt := range m.kongRoutes() {
		svc := m.Get(kService, rt.SvcNS, rt.SvcName)
		if svc == nil || !truthy(svc.Annotations[annServiceUpstream]) || kongSendsServiceHost(rt, svc) {
			continue
		}
		t := m.backendMTLS(svc)
		if t.Mesh != MeshIstio || !m.kongInIstio() {
			continue
		}
		sev, effect := SeverityWarning, "PERMISSIVE accepts it, so the hop is silently unencrypted"
		if t.strict() {
			sev, effect = SeverityError, "the STRICT backend resets it (502)"
		}
		msg := fmt.Sprintf("%s reaches %s through its ClusterIP (service-upstream) but Kong sends %s: Kong's Istio sidecar routes "+
			"HTTP by Host, finds no Service for that Host and passes the request through as plaintext; %s (%s). Fix: set %s.",
			rt.Obj.Ref(), svc.Ref(), kongSentHost(rt, svc), effect, t.Detail, istioHostFix(rt, svc))
		out = append(out, r.finding(sev, rt.Obj, msg, svc, t.Policy))
	}
	return out
}

// preservesHost reports whether KIC gives the route preserve_host=true: its
// default for Ingress and HTTPRoute routes alike, unless the route is
// annotated konghq.com/preserve-host: "false" (KIC v3.5.13 kongstate/route.go
// overridePreserveHost, case-insensitive).
func preservesHost(rt route) bool {
	return !strings.EqualFold(strings.TrimSpace(rt.Obj.Annotations[annKongPreserveHost]), "false")
}

// kongSendsServiceHost reports whether the Host Kong sends upstream names
// svc as Istio knows it. With preserve_host Kong forwards the client's Host
// and never reads host_header (Kong 3.9.1 kong/runloop/balancer/init.lua,
// set_host_header returns first); without it Kong sends host_header, or,
// with no host_header, the target's name: a Pod IP, or <svc>.<ns>.svc for
// service-upstream, which Istio knows too (istio/istio 1.31
// pilot/pkg/networking/core/httproute.go GenerateAltVirtualHosts).
func kongSendsServiceHost(rt route, svc *Object) bool {
	switch {
	case preservesHost(rt):
		return false
	case strings.TrimSpace(svc.Annotations[annKongHostHeader]) != "":
		return hostHeaderNamesService(svc)
	}
	return truthy(svc.Annotations[annServiceUpstream])
}

// kongSentHost says which Host Kong sends when it is not one Istio knows.
func kongSentHost(rt route, svc *Object) string {
	h := strings.TrimSpace(svc.Annotations[annKongHostHeader])
	switch {
	case preservesHost(rt) && h != "":
		return fmt.Sprintf("the client's Host: KIC creates the route with preserve_host=true and Kong ignores konghq.com/host-header: %s "+
			"on %s while %s lacks konghq.com/preserve-host: \"false\"", h, svc.Ref(), rt.Obj.Ref())
	case preservesHost(rt):
		return "the client's Host (KIC creates the route with preserve_host=true)"
	case h != "":
		return fmt.Sprintf("Host: %s (konghq.com/host-header), which is not a name of %s", h, svc.Ref())
	}
	return "the target's Pod IP as Host"
}

// istioHostFix is the fix text for a Host Istio does not know: both
// annotations, since either alone leaves Kong sending the wrong Host.
func istioHostFix(rt route, svc *Object) string {
	return fmt.Sprintf("konghq.com/host-header: %s.%s.svc.cluster.local on %s and konghq.com/preserve-host: \"false\" on %s "+
		"(both: KIC preserves the client's Host by default, and Kong reads host_header only when preserve_host is off)",
		svc.Name, svc.Namespace, svc.Ref(), rt.Obj.Ref())
}

// hostHeaderNamesService reports whether konghq.com/host-header on svc is a
// name Istio knows the Service by (name, name.ns, name.ns.svc, FQDN).
func hostHeaderNamesService(svc *Object) bool {
	h := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(svc.Annotations[annKongHostHeader]), "."))
	if i := strings.LastIndex(h, ":"); i >= 0 {
		h = h[:i]
	}
	base := svc.Name + "." + svc.Namespace
	switch h {
	case svc.Name, base, base + ".svc", base + ".svc.cluster.local":
		return true
	}
	return false
}

// kongInIstio reports whether the Kong gateway pods have an Istio sidecar;
// true when no Kong pods are in the inputs (the usual setup for Istio).
func (m *Model) kongInIstio() bool {
	pods := m.kongPods()
	if len(pods) == 0 {
		return true
	}
	for _, p := range pods {
		if m.istioInjected(p.obj.Namespace, p.podLabels, p.podAnnotations) {
			return true
		}
	}
	return false
}
