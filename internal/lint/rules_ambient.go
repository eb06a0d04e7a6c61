package lint

import "fmt"

// Istio ambient labels (istio.io/api label/labels.gen.go, istio 1.31).
const (
	lblDataplaneMode       = "istio.io/dataplane-mode"
	lblUseWaypoint         = "istio.io/use-waypoint"
	lblUseWaypointNS       = "istio.io/use-waypoint-namespace"
	lblWaypointFor         = "istio.io/waypoint-for"
	waypointForService     = "service" // the default when neither Gateway nor GatewayClass says
	waypointForAll         = "all"
	waypointForWorkload    = "workload"
	factWaypointForService = "A waypoint serves the traffic types its Gateway's (else its GatewayClass's) istio.io/waypoint-for label names, " +
		"service by default; a Service or its namespace selects one with istio.io/use-waypoint (\"none\" opts out), and only Service-addressed " +
		"traffic is sent to a service waypoint, while traffic to a Pod IP is workload-addressed [istio/istio 1.31 " +
		"pilot/pkg/serviceregistry/ambient/waypoints.go: fetchWaypointForTarget, gatewayToWaypointTransform]; " +
		"Kong sends to Pod IPs unless the Service has ingress.kubernetes.io/service-upstream: \"true\" [KIC annotation reference]"
)

// MG016: Kong's Pod-IP upstream skips a service waypoint.
func ruleWaypointBypass() Rule {
	return Rule{
		ID: "MG016", Severity: SeverityError,
		Title: "Kong reaches an ambient backend by Pod IP, skipping its service waypoint",
		Help: "In ambient mode L7 policy (AuthorizationPolicy, RequestAuthentication) is enforced by the waypoint. A waypoint serves " +
			"Service-addressed traffic by default; Kong's default Pod-IP upstreams are workload-addressed, so they go straight to the " +
			"backend through ztunnel and the waypoint's policy is silently not applied.",
		Fact:  factWaypointForService,
		check: checkWaypointBypass,
	}
}

func checkWaypointBypass(m *Model, r Rule) []Finding {
	var out []Finding
	for _, rt := range m.kongRoutes() {
		svc := m.Get(kService, rt.SvcNS, rt.SvcName)
		if svc == nil || str(svc.Content, "spec", "type") == "ExternalName" || truthy(svc.Annotations[annServiceUpstream]) {
			continue
		}
		w := m.workloadOf(svc)
		if !m.ambientCaptured(svc.Namespace, w.Labels, w.Annotations) {
			continue
		}
		wp := m.waypointFor(svc.Labels, svc.Namespace)
		if wp.Name == "" || !wp.forService() {
			continue
		}
		if pods := m.waypointFor(w.Labels, svc.Namespace); pods.Name != "" && pods.forWorkload() {
			continue // Pod-IP traffic goes through the pods' own waypoint
		}
		sev, known := SeverityError, fmt.Sprintf("which serves Service-addressed traffic (%s)", wp.Detail)
		if wp.Gateway == nil {
			sev, known = SeverityWarning, fmt.Sprintf("whose Gateway is not in the inputs; Istio's default istio.io/waypoint-for is service, so unless it says workload or all it serves only Service-addressed traffic (%s)", wp.Detail)
		}
		msg := fmt.Sprintf("%s routes to %s by Pod IP (no ingress.kubernetes.io/service-upstream). %s uses waypoint %s/%s, %s. "+
			"Kong's requests are workload-addressed and skip the waypoint, so the AuthorizationPolicy and RequestAuthentication enforced "+
			"there do not apply to them. Fix: annotate %s with ingress.kubernetes.io/service-upstream: \"true\" (and enrol Kong's namespace "+
			"with istio.io/dataplane-mode: ambient, so its traffic is captured), or make the backend's waypoint take workload traffic too (istio.io/waypoint-for: all on the Gateway, istio.io/use-waypoint on the pods or their namespace).",
			rt.Obj.Ref(), svc.Ref(), svc.Ref(), wp.Namespace, wp.Name, known, svc.Ref())
		out = append(out, r.finding(sev, rt.Obj, msg, svc, wp.Gateway))
	}
	return out
}

// ambientCaptured reports whether ztunnel captures a workload: the pod's
// istio.io/dataplane-mode label wins ("none" opts out), else the namespace's;
// a workload with a sidecar is not captured.
func (m *Model) ambientCaptured(ns string, labels, annotations map[string]string) bool {
	if v := labels[lblDataplaneMode]; v != "" {
		return v == "ambient"
	}
	nsLabels, _ := m.namespaceMeta(ns)
	return nsLabels[lblDataplaneMode] == "ambient" && !m.istioInjected(ns, labels, annotations)
}

type waypoint struct {
	Name, Namespace string
	For             string  // the traffic type
	Gateway         *Object // nil when not in the inputs
	Detail          string
}

func (w waypoint) forService() bool  { return w.For == waypointForService || w.For == waypointForAll }
func (w waypoint) forWorkload() bool { return w.For == waypointForWorkload || w.For == waypointForAll }

// waypointFor is the waypoint an object (Service or pod) in ns uses: its own
// istio.io/use-waypoint label, else its namespace's; "none" on the object
// opts out. A zero waypoint means none.
func (m *Model) waypointFor(labels map[string]string, ns string) waypoint {
	from := "label on the object"
	if labels[lblUseWaypoint] == "" {
		labels, _ = m.namespaceMeta(ns)
		from = "label on Namespace " + ns
	}
	name := labels[lblUseWaypoint]
	if name == "" || name == "none" {
		return waypoint{}
	}
	wns := ns
	if v := labels[lblUseWaypointNS]; v != "" {
		wns = v
	}
	return m.resolveWaypoint(name, wns, from)
}

// resolveWaypoint finds the traffic type: the Gateway's istio.io/waypoint-for,
// else its GatewayClass's, else service.
func (m *Model) resolveWaypoint(name, ns, from string) waypoint {
	w := waypoint{Name: name, Namespace: ns, For: waypointForService, Detail: "istio.io/use-waypoint " + from}
	gw := m.Get(kGateway, ns, name)
	if gw == nil {
		return w
	}
	w.Gateway = gw
	if gc := m.Get(kGatewayClass, "", str(gw.Content, "spec", "gatewayClassName")); gc != nil && gc.Labels[lblWaypointFor] != "" {
		w.For = gc.Labels[lblWaypointFor]
	}
	if v := gw.Labels[lblWaypointFor]; v != "" {
		w.For = v
	}
	w.Detail += fmt.Sprintf("; Gateway %s/%s waypoint-for %s", ns, name, w.For)
	return w
}
