package lint

import (
	"fmt"
	"strings"
)

const (
	factKumaGateway = "kuma.io/gateway: enabled makes a delegated gateway Dataplane: no inbound listeners, inbound not redirected, outbound " +
		"still captured [kumahq/kuma pod_converter.go; Kuma docs]; the kong/ingress chart 0.24.0 sets it by default [Kong/charts values.yaml]"
	factIstioInjection = "Istio injects sidecars by namespace label istio-injection=enabled (or istio.io/rev), pod opt-out sidecar.istio.io/inject: " +
		"\"false\" [Istio sidecar injection docs]; Kong's Istio guide labels Kong's namespace istio-injection=enabled [Kong docs]"
	factKumaMTP = "Since Kuma 2.6 no allow-all MeshTrafficPermission is created: once mTLS is on, all traffic is denied until one is added " +
		"[kumahq/kuma api/mesh/v1alpha1/mesh.proto; kumahq/kuma 2.14.3: the control plane creates Mesh default with no allow-all permission]"
)

// MG006: Kong in a Kuma mesh without kuma.io/gateway: enabled.
func ruleKumaGatewayAnnotation() Rule {
	return Rule{
		ID: "MG006", Severity: SeverityError,
		Title: "Kong gateway pods in a Kuma mesh without kuma.io/gateway: enabled",
		Help: "Without the annotation Kuma treats Kong as an ordinary service: its inbound traffic is redirected into the sidecar, " +
			"which under mTLS refuses clients outside the mesh.",
		Fact:  factKumaGateway,
		check: checkKumaGatewayAnnotation,
	}
}

func checkKumaGatewayAnnotation(m *Model, r Rule) []Finding {
	var out []Finding
	for _, p := range m.kongPods() {
		ns := p.obj.Namespace
		if !m.kumaInjected(ns, p.podLabels, p.podAnnotations) || p.podAnnotations[annKumaGateway] == "enabled" {
			continue
		}
		msg := fmt.Sprintf("Kong gateway %s gets a Kuma sidecar (namespace %s or the pod is labelled kuma.io/sidecar-injection: enabled) "+
			"but its pod template has no annotation kuma.io/gateway: enabled: Kuma makes it a regular Dataplane and redirects the "+
			"proxy's inbound traffic into the sidecar, so clients outside the mesh are refused. Fix: add kuma.io/gateway: enabled to the "+
			"pod template annotations (the kong/ingress chart sets it by default; keep chart podAnnotations merged).", p.obj.Ref(), ns)
		out = append(out, r.finding(SeverityError, p.obj, msg))
	}
	return out
}

// MG007: Kong outside the mesh while its backends are STRICT.
func ruleIstioGatewayInjection() Rule {
	return Rule{
		ID: "MG007", Severity: SeverityError,
		Title: "Kong gateway pods outside the mesh route to STRICT backends",
		Help: "A Kong pod without the mesh's sidecar sends plaintext. STRICT backends reset it, even when Kong targets the Service " +
			"(service-upstream) or a mesh bridge.",
		Fact:  factIstioInjection + "; Kuma injects by namespace or pod label kuma.io/sidecar-injection: enabled [Kuma docs]",
		check: checkIstioGatewayInjection,
	}
}

func checkIstioGatewayInjection(m *Model, r Rule) []Finding {
	type strictBackend struct {
		svc  *Object
		mesh Mesh
	}
	var backends []strictBackend
	seen := map[string]bool{}
	for _, rt := range m.kongRoutes() {
		_, svc := m.meshedBackend(rt)
		if svc == nil || seen[svc.Ref().String()] || str(svc.Content, "spec", "type") == "ExternalName" {
			continue
		}
		seen[svc.Ref().String()] = true
		if t := m.backendMTLS(svc); t.strict() {
			backends = append(backends, strictBackend{svc, t.Mesh})
		}
	}
	var out []Finding
	for _, p := range m.kongPods() {
		ns := p.obj.Namespace
		inIstio := m.istioInjected(ns, p.podLabels, p.podAnnotations)
		inKuma := m.kumaInjected(ns, p.podLabels, p.podAnnotations)
		var missing []string
		related := []*Object{m.Get(kNamespace, "", ns)}
		meshes := map[Mesh]bool{}
		for _, b := range backends {
			if (b.mesh == MeshIstio && !inIstio) || (b.mesh == MeshKuma && !inKuma) {
				missing = append(missing, b.svc.Ref().String())
				related = append(related, b.svc)
				meshes[b.mesh] = true
			}
		}
		if len(missing) == 0 {
			continue
		}
		var fixes []string
		if meshes[MeshIstio] {
			fixes = append(fixes, fmt.Sprintf("for Istio, label namespace %s istio-injection=enabled (Kong's Istio guide) and restart Kong, "+
				"excluding the admin port from capture (traffic.sidecar.istio.io/excludeOutboundPorts: \"8444\")", ns))
		}
		if meshes[MeshKuma] {
			fixes = append(fixes, fmt.Sprintf("for Kuma, label namespace %s (or the pod template) kuma.io/sidecar-injection: enabled and "+
				"annotate the pod template kuma.io/gateway: enabled (the kong/ingress chart's default)", ns))
		}
		msg := fmt.Sprintf("Kong gateway %s has no sidecar of the mesh its backends are in, and they are STRICT: %s. Kong's plaintext "+
			"is reset by their sidecars (502), even with service-upstream or a mesh bridge. Fix: %s.",
			p.obj.Ref(), strings.Join(missing, ", "), strings.Join(fixes, "; "))
		out = append(out, r.finding(SeverityError, p.obj, msg, related...))
	}
	return out
}

// MG008: Kuma Mesh with mTLS and no MeshTrafficPermission.
func ruleKumaNoPermission() Rule {
	return Rule{
		ID: "MG008", Severity: SeverityError,
		Title: "Kuma Mesh with mTLS and no MeshTrafficPermission",
		Help:  "Since Kuma 2.6 enabling mTLS denies all traffic until a MeshTrafficPermission allows it.",
		Fact:  factKumaMTP,
		check: checkKumaNoPermission,
	}
}

func checkKumaNoPermission(m *Model, r Rule) []Finding {
	var out []Finding
	for _, mesh := range m.All(kKumaMesh) {
		backend := str(mesh.Content, "spec", "mtls", "enabledBackend")
		if backend == "" || m.hasPermission(mesh.Name) {
			continue
		}
		msg := fmt.Sprintf("Mesh %q enables mTLS (backend %q) but no MeshTrafficPermission targets it: since Kuma 2.6 no allow-all "+
			"policy exists, so every request between Dataplanes of this mesh is denied (403 RBAC: access denied). Fix: apply a "+
			"MeshTrafficPermission in the control-plane namespace (kuma-system) labelled kuma.io/mesh: %s with targetRef {kind: Mesh} and "+
			"from [{targetRef: {kind: Mesh}, default: {action: Allow}}] (or narrower rules).", mesh.Name, backend, mesh.Name)
		out = append(out, r.finding(SeverityError, mesh, msg))
	}
	return out
}

func (m *Model) hasPermission(mesh string) bool {
	for _, p := range m.All(kKumaMTP) {
		if l := p.Labels[lblKumaMesh]; l == mesh || (l == "" && mesh == "default") {
			return true
		}
	}
	for _, p := range m.All(kKumaTrafficPerm) { // the legacy policy still allows traffic
		if l := str(p.Content, "mesh"); l == mesh || (l == "" && mesh == "default") {
			return true
		}
	}
	return false
}
