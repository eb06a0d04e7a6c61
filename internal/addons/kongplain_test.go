package addons

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/kubetest"
)

func TestKongPlainValues(t *testing.T) {
	zero := 0
	// Whatever the meshed Kong gets (NodePort on kind, a load balancer, the
	// Kuma mesh label), the plain one is the same: ClusterIP, its own class,
	// out of every mesh. Images and keepalive follow the meshed Kong's.
	for _, o := range []Options{
		{Mesh: cluster.MeshKuma, Kind: true, KongPlain: true},
		{Mesh: cluster.MeshIstio, ProxyServiceType: ProxyLoadBalancer, KongPlain: true},
		{Mesh: cluster.MeshIstioAmbient, ImageMirror: "mirror.example/hub", KongKeepalivePoolSize: &zero, KongPlain: true},
	} {
		t.Run(o.Mesh, func(t *testing.T) {
			v, err := KongPlainValues(testMatrix(t), o)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"gateway.proxy":                             map[string]any{"type": ProxyClusterIP},
				"gateway.deployment":                        nil,
				"controller.ingressController.ingressClass": cluster.KongPlainClass,
				"controller.ingressController.env":          map[string]any{"gateway_api_controller_name": cluster.KongPlainGatewayController},
				"gateway.podAnnotations":                    nil,
				"controller.podAnnotations":                 nil,
				"gateway.manager":                           map[string]any{"enabled": false},
				"gateway.image.repository":                  Mirror(o.ImageMirror, "kong"),
				"controller.ingressController.image.tag":    "3.5",
				"gateway.env":                               nil,
			}
			if o.KongKeepalivePoolSize != nil {
				want["gateway.env"] = map[string]any{"upstream_keepalive_pool_size": 0}
			}
			for path, w := range want {
				if got := dig(t, v, path); fmt.Sprint(got) != fmt.Sprint(w) && !(w == nil && got == nil) {
					t.Errorf("%s = %v, want %v", path, got, w)
				}
			}
			for _, part := range []string{"controller", "gateway"} {
				labels := v[part].(map[string]any)["podLabels"].(map[string]any)
				if fmt.Sprint(labels) != fmt.Sprint(kongPlainPodOptOut) {
					t.Errorf("%s.podLabels = %v, want only the opt-outs %v", part, labels, kongPlainPodOptOut)
				}
			}
		})
	}
}

func TestKongPlainOnlyWhenAsked(t *testing.T) {
	for _, plain := range []bool{false, true} {
		o := Options{Mesh: cluster.MeshKuma, KongPlain: plain}
		steps, err := MeshSteps(testMatrix(t), o, DefaultTimeouts)
		if err != nil {
			t.Fatal(err)
		}
		rels, err := Releases(testMatrix(t), o)
		if err != nil {
			t.Fatal(err)
		}
		hasStep := slices.ContainsFunc(steps, func(s cluster.Step) bool { return s.Name == StepKongPlain })
		hasRel := slices.ContainsFunc(rels, func(r Release) bool {
			return r.Name == cluster.KongPlainRelease && r.Namespace == cluster.KongPlainNamespace && r.Key == ChartKong
		})
		if hasStep != plain || hasRel != plain {
			t.Errorf("KongPlain %v: step %v, release %v", plain, hasStep, hasRel)
		}
		if plain && steps[len(steps)-1].Name != StepKongPlain {
			t.Errorf("the plain Kong is installed last (after the CRDs and the meshed Kong), got step order %v", stepNames(steps))
		}
	}
}

func stepNames(steps []cluster.Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Name)
	}
	return out
}

// pinnedKongMatrix reads the kong/ingress chart from MESHGATE_CHARTS_DIR.
func pinnedKongMatrix(t *testing.T) Matrix {
	t.Helper()
	p, skip, err := kubetest.ChartPath(kubetest.KongChartFile)
	if skip != "" {
		t.Skip(skip)
	}
	if err != nil {
		t.Fatal(err)
	}
	m, err := testMatrix(t).Set("charts." + ChartKong + ".path=" + p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func renderRelease(t *testing.T, m Matrix, r Release) []*unstructured.Unstructured {
	t.Helper()
	ch, err := LoadChart(r.Chart, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The kong chart renders its IngressClass only where the cluster serves
	// networking.k8s.io/v1/IngressClass (templates/ingress-class.yaml), as
	// every supported Kubernetes does.
	out, err := Render(t.Context(), r, ch, KubeVersionOf(m.Kind.NodeImage), "networking.k8s.io/v1/IngressClass")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := DecodeYAML([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetNamespace() == "" && namespaced(o.GetKind()) {
			o.SetNamespace(r.Namespace)
		}
	}
	return objs
}

// namespaced: the cluster-scoped kinds the kong/ingress chart renders.
func namespaced(kind string) bool {
	return !slices.Contains([]string{"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "IngressClass",
		"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "Namespace"}, kind)
}

func objectKey(o *unstructured.Unstructured) string {
	return o.GroupVersionKind().GroupKind().String() + " " + o.GetNamespace() + "/" + o.GetName()
}

// The plain release rendered from the real chart beside the meshed one, for
// each mesh's values: no object of one is an object of the other (the CRDs
// aside: the same chart's crds/, which Helm installs only when absent), and
// what the bench relies on is what the chart makes of the values.
func TestKongPlainRenderedBesideMeshedKong(t *testing.T) {
	m := pinnedKongMatrix(t)
	for _, mesh := range cluster.Meshes {
		t.Run(mesh, func(t *testing.T) {
			o := Options{Mesh: mesh, Kind: true, KongPlain: true}
			kv, err := KongValues(m, o)
			if err != nil {
				t.Fatal(err)
			}
			meshed := renderRelease(t, m, release(m, ChartKong, cluster.KongRelease, cluster.KongNamespace, kv))
			r, err := KongPlainRelease(m, o)
			if err != nil {
				t.Fatal(err)
			}
			plain := renderRelease(t, m, r)
			taken := map[string]bool{}
			for _, obj := range meshed {
				taken[objectKey(obj)] = true
			}
			for _, obj := range plain {
				if obj.GetKind() != "CustomResourceDefinition" && taken[objectKey(obj)] {
					t.Errorf("both releases render %s", objectKey(obj))
				}
			}
			checkPlainRender(t, plain, meshed)
		})
	}
}

func checkPlainRender(t *testing.T, plain, meshed []*unstructured.Unstructured) {
	t.Helper()
	ns := cluster.KongPlainNamespace
	if find(plain, "IngressClass", cluster.KongPlainClass) == nil {
		t.Errorf("no IngressClass %s rendered", cluster.KongPlainClass)
	}
	for _, obj := range plain {
		if obj.GetKind() == "Service" {
			var s corev1.Service
			fromUnstructured(t, obj, &s)
			for _, p := range s.Spec.Ports {
				if p.NodePort != 0 || (s.Spec.Type != "" && s.Spec.Type != corev1.ServiceTypeClusterIP) {
					t.Errorf("Service %s: type %s, port %s node port %d; want ClusterIP only (no node port to collide with the meshed Kong's)", s.Name, s.Spec.Type, p.Name, p.NodePort)
				}
			}
		}
		if obj.GetNamespace() != "" && obj.GetNamespace() != ns {
			t.Errorf("%s outside the plain namespace %s", objectKey(obj), ns)
		}
	}
	proxy := find(plain, "Service", cluster.KongPlainProxyService)
	if proxy == nil {
		t.Fatalf("no Service %s rendered: bench mode kong's default URL names it", cluster.KongPlainProxyService)
	}
	var ps corev1.Service
	fromUnstructured(t, proxy, &ps)
	if !slices.ContainsFunc(ps.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == 80 }) {
		t.Errorf("Service %s has ports %v, want 80 (bench mode kong's URL has no port)", ps.Name, ps.Spec.Ports)
	}
	deps := map[string]appsv1.Deployment{}
	for _, name := range []string{cluster.KongPlainGatewayName, cluster.KongPlainControllerName} {
		obj := find(plain, "Deployment", name)
		if obj == nil {
			t.Fatalf("no Deployment %s rendered", name)
		}
		var d appsv1.Deployment
		fromUnstructured(t, obj, &d)
		deps[name] = d
		l := d.Spec.Template.Labels
		for k, v := range kongPlainPodOptOut {
			if l[k] != v {
				t.Errorf("Deployment %s pod label %s=%q, want %q", name, k, l[k], v)
			}
		}
		for _, k := range []string{"kuma.io/mesh", LabelDataplaneMode} {
			if _, ok := l[k]; ok {
				t.Errorf("Deployment %s pods labelled %s: they would join a mesh", name, k)
			}
		}
	}
	env := controllerEnv(t, deps[cluster.KongPlainControllerName])
	meshedEnv := map[string]string{}
	if obj := find(meshed, "Deployment", cluster.KongControllerName); obj != nil {
		var d appsv1.Deployment
		fromUnstructured(t, obj, &d)
		meshedEnv = controllerEnv(t, d)
	}
	for k, want := range map[string]string{
		"CONTROLLER_INGRESS_CLASS":               cluster.KongPlainClass,
		"CONTROLLER_GATEWAY_API_CONTROLLER_NAME": cluster.KongPlainGatewayController,
		"CONTROLLER_PUBLISH_SERVICE":             ns + "/" + cluster.KongPlainProxyService,
		"CONTROLLER_KONG_ADMIN_SVC":              ns + "/" + cluster.KongPlainGatewayName + "-admin",
	} {
		if env[k] != want {
			t.Errorf("plain controller %s=%q, want %q", k, env[k], want)
		}
	}
	for _, k := range []string{"CONTROLLER_INGRESS_CLASS", "CONTROLLER_ELECTION_ID", "CONTROLLER_GATEWAY_API_CONTROLLER_NAME"} {
		if env[k] == meshedEnv[k] {
			t.Errorf("both controllers have %s=%q: they would reconcile (or lead) each other's", k, env[k])
		}
	}
}

// controllerEnv is the ingress-controller container's literal environment.
func controllerEnv(t *testing.T, d appsv1.Deployment) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name != "ingress-controller" {
			continue
		}
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
	}
	if len(env) == 0 {
		t.Fatalf("Deployment %s has no ingress-controller container with env (containers %v)", d.Name, slices.Collect(maps.Keys(env)))
	}
	return env
}

func fromUnstructured(t *testing.T, u *unstructured.Unstructured, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
		t.Fatalf("%s: %v", objectKey(u), err)
	}
}
