package lint

import (
	"fmt"
	"strconv"
	"strings"
)

// Annotations and labels the rules read (FACTS.md, UPSTREAM.md).
const (
	annServiceUpstream  = "ingress.kubernetes.io/service-upstream"
	annKongPlugins      = "konghq.com/plugins"
	annKongOverride     = "konghq.com/override"
	annKongRetries      = "konghq.com/retries"
	annKongReadTimeout  = "konghq.com/read-timeout"
	annKongHostHeader   = "konghq.com/host-header"
	annKongPreserveHost = "konghq.com/preserve-host"
	annIngressClass     = "kubernetes.io/ingress.class"
	lblKumaInjection    = "kuma.io/sidecar-injection"
	lblKumaMesh         = "kuma.io/mesh"
	annKumaGateway      = "kuma.io/gateway"
	annKumaIgnore       = "kuma.io/ignore"
	lblIstioInjection   = "istio-injection"
	lblIstioRev         = "istio.io/rev"
	annIstioInject      = "sidecar.istio.io/inject"
	kongIngressCtrl     = "ingress-controllers.konghq.com/kong"
	kongGatewayCtrl     = "konghq.com/kic-gateway-controller"
	kongDefaultRetries  = 5     // Kong Service entity default
	kongDefaultReadMs   = 60000 // Kong Service entity default read_timeout
	istioDefaultRetries = 2     // Istio default retry policy
)

// Mesh names a service mesh.
type Mesh string

const (
	MeshNone  Mesh = ""
	MeshKuma  Mesh = "Kuma"
	MeshIstio Mesh = "Istio"
)

// mtls is what a mesh enforces on a workload's inbound traffic.
type mtls struct {
	Mesh   Mesh
	Mode   string  // STRICT, PERMISSIVE, DISABLE, or "" when unknown
	Policy *Object // the object that decides Mode, if any
	Detail string  // how Mode was decided, for messages
}

func (t mtls) strict() bool { return t.Mode == "STRICT" }

// workload is what a Service selects: its pod labels and annotations, from
// the Deployments and Pods in the inputs (or the selector alone).
type workload struct {
	Labels      map[string]string
	Annotations map[string]string
	Objects     []*Object
}

func (m *Model) workloadOf(svc *Object) workload {
	sel := strMap(svc.Content, "spec", "selector")
	w := workload{Labels: sel}
	for _, o := range m.podsIn(svc.Namespace) {
		if selects(sel, o.podLabels) {
			w.Objects = append(w.Objects, o.obj)
			w.Labels = o.podLabels
			w.Annotations = o.podAnnotations
		}
	}
	return w
}

type podLike struct {
	obj            *Object
	podLabels      map[string]string
	podAnnotations map[string]string
	spec           any
}

// podsIn lists pods and pod templates (Deployments, DaemonSets, StatefulSets)
// in ns; ns "" lists all.
func (m *Model) podsIn(ns string) []podLike {
	var out []podLike
	var workloads []*Object
	for _, k := range []string{kDeployment, kDaemonSet, kStatefulSet} {
		workloads = append(workloads, m.All(k)...)
	}
	for _, d := range workloads {
		if ns == "" || d.Namespace == ns {
			tmpl := field(d.Content, "spec", "template")
			out = append(out, podLike{d, strMap(tmpl, "metadata", "labels"), strMap(tmpl, "metadata", "annotations"), field(tmpl, "spec")})
		}
	}
	for _, p := range m.All(kPod) {
		if ns == "" || p.Namespace == ns {
			out = append(out, podLike{p, p.Labels, p.Annotations, field(p.Content, "spec")})
		}
	}
	return out
}

func (m *Model) namespaceMeta(ns string) (labels, annotations map[string]string) {
	if o := m.Get(kNamespace, "", ns); o != nil {
		return o.Labels, o.Annotations
	}
	return nil, nil
}

// kumaNamespace reports whether ns is labelled for Kuma sidecar injection.
func (m *Model) kumaNamespace(ns string) bool {
	l, a := m.namespaceMeta(ns)
	return truthy(l[lblKumaInjection]) || truthy(a[lblKumaInjection])
}

// kumaInjected reports whether Kuma injects a sidecar into pods with these
// labels and annotations in ns. Kuma's injector is called through two
// webhooks (kuma chart 2.14.3 templates/cp-webhooks-and-secrets.yaml): one
// for namespaces labelled kuma.io/sidecar-injection enabled or "true", one
// for pods labelled enabled in a namespace that has the label with any
// value. Once called, the pod's own label or annotation wins over the
// namespace's (kumahq/kuma webhooks/injector/precheck.go).
func (m *Model) kumaInjected(ns string, labels, annotations map[string]string) bool {
	if !m.kumaWebhookCalled(ns, labels) {
		return false
	}
	for _, v := range []string{labels[lblKumaInjection], annotations[lblKumaInjection]} {
		if v != "" {
			return truthy(v)
		}
	}
	return m.kumaNamespace(ns)
}

// kumaWebhookCalled: does the API server send a pod with these labels in ns
// to Kuma's injector at all? A namespace missing from the inputs is given the
// benefit of the doubt.
func (m *Model) kumaWebhookCalled(ns string, labels map[string]string) bool {
	nsObj := m.Get(kNamespace, "", ns)
	if nsObj == nil {
		return true
	}
	v, has := nsObj.Labels[lblKumaInjection]
	return v == "enabled" || v == "true" || (has && labels[lblKumaInjection] == "enabled")
}

func (m *Model) kumaMeshName(ns string, labels, annotations map[string]string) string {
	nl, na := m.namespaceMeta(ns)
	for _, v := range []string{labels[lblKumaMesh], annotations[lblKumaMesh], nl[lblKumaMesh], na[lblKumaMesh]} {
		if v != "" {
			return v
		}
	}
	return "default"
}

// kumaMTLS is the mTLS mode of a Kuma mesh: the Mesh's enabled backend mode
// (STRICT by default), turned PERMISSIVE by a mesh-wide MeshTLS.
func (m *Model) kumaMTLS(mesh string) mtls {
	t := mtls{Mesh: MeshKuma}
	obj := m.Get(kKumaMesh, "", mesh)
	if obj == nil {
		t.Detail = fmt.Sprintf("Mesh %q is not in the inputs", mesh)
		return t
	}
	t.Policy = obj
	enabled := str(obj.Content, "spec", "mtls", "enabledBackend")
	if enabled == "" {
		t.Mode = "DISABLE"
		t.Detail = fmt.Sprintf("Mesh %q has no spec.mtls.enabledBackend", mesh)
		return t
	}
	t.Mode = "STRICT"
	for _, b := range list(obj.Content, "spec", "mtls", "backends") {
		if str(b, "name") == enabled && strings.EqualFold(str(b, "mode"), "PERMISSIVE") {
			t.Mode = "PERMISSIVE"
		}
	}
	t.Detail = fmt.Sprintf("Mesh %q enables mTLS backend %q in %s mode", mesh, enabled, t.Mode)
	for _, p := range m.All(kKumaMeshTLS) {
		if p.Labels[lblKumaMesh] != "" && p.Labels[lblKumaMesh] != mesh {
			continue
		}
		if k := str(p.Content, "spec", "targetRef", "kind"); k != "" && k != "Mesh" {
			continue
		}
		for _, sect := range append(list(p.Content, "spec", "rules"), list(p.Content, "spec", "from")...) {
			if strings.EqualFold(str(sect, "default", "mode"), "Permissive") {
				t.Mode, t.Policy = "PERMISSIVE", p
				t.Detail = fmt.Sprintf("MeshTLS %s/%s sets mode Permissive for mesh %q", p.Namespace, p.Name, mesh)
			}
		}
	}
	return t
}

// istioInjected reports whether Istio injects a sidecar: the pod label or
// annotation sidecar.istio.io/inject wins, else the namespace label.
func (m *Model) istioInjected(ns string, labels, annotations map[string]string) bool {
	for _, v := range []string{labels[annIstioInject], annotations[annIstioInject]} {
		if v != "" {
			return truthy(v)
		}
	}
	return m.istioNamespace(ns)
}

func (m *Model) istioNamespace(ns string) bool {
	l, _ := m.namespaceMeta(ns)
	if l[lblIstioInjection] != "" {
		return l[lblIstioInjection] == "enabled"
	}
	return l[lblIstioRev] != ""
}

// istioMTLS is the PeerAuthentication mode for a workload: a selector match
// in its namespace, else the namespace-wide policy, else the mesh-wide one in
// the root namespace, else PERMISSIVE (Istio's default).
func (m *Model) istioMTLS(ns string, labels map[string]string) mtls {
	var wl, nsWide, root *Object
	for _, p := range m.All(kPeerAuth) {
		sel := strMap(p.Content, "spec", "selector", "matchLabels")
		switch {
		case p.Namespace == ns && len(sel) > 0 && selects(sel, labels):
			wl = p
		case p.Namespace == ns && len(sel) == 0:
			nsWide = p
		case p.Namespace == m.IstioRootNamespace && len(sel) == 0:
			root = p
		}
	}
	t := mtls{Mesh: MeshIstio, Mode: "PERMISSIVE", Detail: "no PeerAuthentication applies (Istio defaults to PERMISSIVE)"}
	for _, p := range []*Object{root, nsWide, wl} {
		if p == nil {
			continue
		}
		if mode := strings.ToUpper(str(p.Content, "spec", "mtls", "mode")); mode != "" && mode != "UNSET" {
			t.Mode, t.Policy = mode, p
			t.Detail = fmt.Sprintf("PeerAuthentication %s/%s sets %s", p.Namespace, p.Name, mode)
		}
	}
	return t
}

// backendMTLS is what the mesh enforces in front of a Service's pods.
func (m *Model) backendMTLS(svc *Object) mtls {
	w := m.workloadOf(svc)
	switch {
	case m.istioInjected(svc.Namespace, w.Labels, w.Annotations) && !m.kumaInjected(svc.Namespace, w.Labels, w.Annotations):
		return m.istioMTLS(svc.Namespace, w.Labels)
	case m.kumaInjected(svc.Namespace, w.Labels, w.Annotations):
		return m.kumaMTLS(m.kumaMeshName(svc.Namespace, w.Labels, w.Annotations))
	}
	return mtls{}
}

// route is one Kong route to one backend Service.
type route struct {
	Obj        *Object // Ingress or HTTPRoute
	SvcNS      string
	SvcName    string
	Port       int // 0 when given by name or not at all
	PortName   string
	PluginRefs []string
}

// kongRoutes lists every backend reference Kong serves: Ingresses of a Kong
// class (or no class) and HTTPRoutes whose parent Gateway is Kong's (or not in
// the inputs).
func (m *Model) kongRoutes() []route {
	var out []route
	for _, ing := range m.All(kIngress) {
		if !m.kongIngress(ing) {
			continue
		}
		plugins := splitList(ing.Annotations[annKongPlugins])
		var backends []any
		if b := field(ing.Content, "spec", "defaultBackend"); b != nil {
			backends = append(backends, b)
		}
		for _, rule := range list(ing.Content, "spec", "rules") {
			for _, p := range list(rule, "http", "paths") {
				backends = append(backends, field(p, "backend"))
			}
		}
		for _, b := range backends {
			name := str(b, "service", "name")
			if name == "" {
				continue
			}
			port, _ := num(b, "service", "port", "number")
			out = append(out, route{Obj: ing, SvcNS: ing.Namespace, SvcName: name, Port: int(port),
				PortName: str(b, "service", "port", "name"), PluginRefs: plugins})
		}
	}
	for _, hr := range m.All(kHTTPRoute) {
		if !m.kongHTTPRoute(hr) {
			continue
		}
		plugins := splitList(hr.Annotations[annKongPlugins])
		for _, rule := range list(hr.Content, "spec", "rules") {
			for _, b := range list(rule, "backendRefs") {
				if g, k := str(b, "group"), str(b, "kind"); g != "" || (k != "" && k != "Service") {
					continue
				}
				ns := str(b, "namespace")
				if ns == "" {
					ns = hr.Namespace
				}
				port, _ := num(b, "port")
				out = append(out, route{Obj: hr, SvcNS: ns, SvcName: str(b, "name"), Port: int(port), PluginRefs: plugins})
			}
		}
	}
	return out
}

func (m *Model) kongIngress(ing *Object) bool {
	class := str(ing.Content, "spec", "ingressClassName")
	if class == "" {
		class = ing.Annotations[annIngressClass]
	}
	if class == "" || class == "kong" {
		return true
	}
	if ic := m.Get(kIngressClass, "", class); ic != nil {
		return str(ic.Content, "spec", "controller") == kongIngressCtrl
	}
	return strings.Contains(class, "kong")
}

func (m *Model) kongHTTPRoute(hr *Object) bool {
	parents := list(hr.Content, "spec", "parentRefs")
	if len(parents) == 0 {
		return false
	}
	for _, p := range parents {
		if k := str(p, "kind"); k != "" && k != "Gateway" {
			continue
		}
		ns := str(p, "namespace")
		if ns == "" {
			ns = hr.Namespace
		}
		gw := m.Get(kGateway, ns, str(p, "name"))
		if gw == nil {
			return true // parent not in the inputs: assume Kong, this is a Kong linter
		}
		class := str(gw.Content, "spec", "gatewayClassName")
		if gc := m.Get(kGatewayClass, "", class); gc != nil {
			if str(gc.Content, "spec", "controllerName") == kongGatewayCtrl {
				return true
			}
			continue
		}
		if strings.Contains(class, "kong") {
			return true
		}
	}
	return false
}

// kongPods lists Kong gateway (proxy) pods and pod templates: containers
// running a kong or kong-gateway image. Controller-only pods are not proxies.
func (m *Model) kongPods() []podLike {
	var out []podLike
	for _, p := range m.podsIn("") {
		for _, c := range list(p.spec, "containers") {
			if isKongImage(str(c, "image")) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

func isKongImage(image string) bool {
	repo := image
	if i := strings.LastIndex(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	base := repo[strings.LastIndex(repo, "/")+1:]
	return base == "kong" || base == "kong-gateway"
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// servicePort finds the Service port a route uses (by number or name); nil
// when the Service has no such port.
func servicePort(svc *Object, number int, name string) any {
	for _, p := range list(svc.Content, "spec", "ports") {
		n, _ := num(p, "port")
		if (number != 0 && int(n) == number) || (name != "" && str(p, "name") == name) {
			return p
		}
	}
	if number == 0 && name == "" && len(list(svc.Content, "spec", "ports")) == 1 {
		return list(svc.Content, "spec", "ports")[0]
	}
	return nil
}

// parseMeshHost splits a Kuma Kubernetes-mode mesh hostname into service,
// namespace and port: <svc>.<ns>.svc.<port>.mesh or <svc>_<ns>_svc_<port>.mesh.
func parseMeshHost(host string) (svc, ns string, port int, ok bool) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	rest, found := strings.CutSuffix(host, ".mesh")
	if !found {
		return "", "", 0, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 || parts[2] != "svc" {
		parts = strings.Split(rest, "_")
		if len(parts) != 4 || parts[2] != "svc" || strings.Contains(rest, ".") {
			return "", "", 0, false
		}
	}
	p, err := strconv.Atoi(parts[3])
	if err != nil || p <= 0 || p > 65535 || parts[0] == "" || parts[1] == "" {
		return "", "", 0, false
	}
	return parts[0], parts[1], p, true
}

// durationSeconds parses Istio durations ("2s", "500ms", "1m", "1.5s").
func durationSeconds(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		scale  float64
	}{{"ms", 0.001}, {"us", 1e-6}, {"ns", 1e-9}, {"h", 3600}, {"m", 60}, {"s", 1}}
	for _, u := range units {
		if v, found := strings.CutSuffix(s, u.suffix); found {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				return 0, false
			}
			return f * u.scale, true
		}
	}
	return 0, false
}
