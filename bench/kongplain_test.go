package bench

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshgate/meshgate/internal/addons"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/kubetest"
)

// Mode kong goes through the plain Kong release as the pinned chart renders
// it: its URL names the release's proxy Service (ClusterIP, port 80), and
// its route bench-plain carries the IngressClass that release's controller
// serves, while the meshed routes keep the meshed Kong's class.
func TestModeKongGoesThroughThePlainKongRelease(t *testing.T) {
	rendered := renderPlainKong(t)
	for _, mesh := range cluster.Meshes {
		t.Run(mesh, func(t *testing.T) {
			p, err := NewClusterPlan(ClusterOptions{Mesh: mesh})
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(p.Modes, func(m ClusterMode) bool { return m.Name == ModeKong })
			if i < 0 {
				t.Fatalf("mode %s not planned on %s", ModeKong, mesh)
			}
			u, err := url.Parse(p.Modes[i].URL)
			if err != nil {
				t.Fatal(err)
			}
			name, ns, _ := strings.Cut(strings.TrimSuffix(u.Hostname(), ".svc.cluster.local"), ".")
			var svc corev1.Service
			if !findRendered(t, rendered, "Service", ns, name, &svc) {
				t.Fatalf("mode kong targets %s, but the plain Kong release renders no Service %s/%s", u.Host, ns, name)
			}
			port := 80
			if u.Port() != "" {
				t.Errorf("mode kong URL %s names a port; the proxy listens on 80", p.Modes[i].URL)
			}
			if !slices.ContainsFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool { return int(sp.Port) == port }) || (svc.Spec.Type != "" && svc.Spec.Type != corev1.ServiceTypeClusterIP) {
				t.Errorf("Service %s/%s: type %q ports %v, want ClusterIP on %d", ns, name, svc.Spec.Type, svc.Spec.Ports, port)
			}
			var ctrl appsv1.Deployment
			if !findRendered(t, rendered, "Deployment", cluster.KongPlainNamespace, cluster.KongPlainControllerName, &ctrl) {
				t.Fatal("no plain Kong controller rendered")
			}
			served := ""
			for _, e := range ctrl.Spec.Template.Spec.Containers[0].Env {
				if e.Name == "CONTROLLER_INGRESS_CLASS" {
					served = e.Value
				}
			}
			for _, obj := range p.AllObjects() {
				ing, ok := obj.(*networkingv1.Ingress)
				if !ok {
					continue
				}
				class := *ing.Spec.IngressClassName
				if plain := ing.Name == "bench-plain"; plain != (class == served) {
					t.Errorf("route %s/%s has class %q; the plain Kong serves %q and must serve bench-plain only", ing.Namespace, ing.Name, class, served)
				}
				if ing.Name != "bench-plain" && class != cluster.KongGatewayClass {
					t.Errorf("meshed route %s has class %q, want the meshed Kong's %q", ing.Name, class, cluster.KongGatewayClass)
				}
			}
		})
	}
}

func renderPlainKong(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	p, skip, err := kubetest.ChartPath(kubetest.KongChartFile)
	if skip != "" {
		t.Skip(skip)
	}
	if err != nil {
		t.Fatal(err)
	}
	m, err := addons.DefaultMatrix()
	if err != nil {
		t.Fatal(err)
	}
	if m, err = m.Set("charts." + addons.ChartKong + ".path=" + p); err != nil {
		t.Fatal(err)
	}
	r, err := addons.KongPlainRelease(m, addons.Options{Kind: true})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := addons.LoadChart(r.Chart, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out, err := addons.Render(t.Context(), r, ch, addons.KubeVersionOf(m.Kind.NodeImage))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := addons.DecodeYAML([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetNamespace() == "" {
			o.SetNamespace(r.Namespace)
		}
	}
	return objs
}

func findRendered(t *testing.T, objs []*unstructured.Unstructured, kind, ns, name string, into any) bool {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == ns && o.GetName() == name {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, into); err != nil {
				t.Fatal(err)
			}
			return true
		}
	}
	return false
}
