package addons

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/kubetest"
)

func TestAmbientValues(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want map[string]any // "<release>.<dotted path>" -> value; nil: absent
	}{
		{"kind", Options{Mesh: cluster.MeshIstioAmbient, Kind: true}, map[string]any{
			"istiod.profile":                   "ambient",
			"istiod.image":                     "istio/pilot:1.31.1",
			"istiod.global.proxy.image":        "istio/proxyv2:1.31.1",
			"istiod.global.tag":                "1.31.1",
			"istio-cni.profile":                "ambient",
			"istio-cni.image":                  "istio/install-cni:1.31.1",
			"istio-cni.cniConfDir":             "/etc/cni/net.d",
			"istio-cni.cniBinDir":              "/opt/cni/bin",
			"ztunnel.image":                    "istio/ztunnel:1.31.1",
			"ztunnel.istioNamespace":           IstioNamespace,
			"ztunnel.profile":                  nil,
			"istio-base.global.istioNamespace": IstioNamespace,
		}},
		{"existing cluster behind a mirror", Options{Mesh: cluster.MeshIstioAmbient, ImageMirror: "mirror.example/hub"}, map[string]any{
			"istiod.image":         "mirror.example/hub/istio/pilot:1.31.1",
			"istio-cni.image":      "mirror.example/hub/istio/install-cni:1.31.1",
			"ztunnel.image":        "mirror.example/hub/istio/ztunnel:1.31.1",
			"istio-cni.cniConfDir": nil,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rels, err := Releases(testMatrix(t), tt.o)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			byName := map[string]map[string]any{}
			for _, r := range rels {
				names = append(names, r.Name)
				byName[r.Name] = r.Values
			}
			if want := []string{IstioBase, IstiodRelease, IstioCNIRelease, ZtunnelRelease, cluster.KongRelease}; !slices.Equal(names, want) {
				t.Fatalf("releases %v, want %v (Istio's Helm order: base, istiod, cni, ztunnel; then Kong)", names, want)
			}
			for path, want := range tt.want {
				rel, rest, _ := strings.Cut(path, ".")
				got := digOrNil(byName[rel], rest)
				if want == nil && got != nil || want != nil && got != want {
					t.Errorf("%s = %v, want %v", path, got, want)
				}
			}
		})
	}
}

func TestAmbientInstallSteps(t *testing.T) {
	steps, err := MeshSteps(testMatrix(t), Options{Mesh: cluster.MeshIstioAmbient}, DefaultTimeouts)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range steps {
		names = append(names, s.Name)
	}
	// --use-installed-mesh drops the step named after the mesh.
	if want := []string{"gateway-api-crds", "kong-namespace", cluster.MeshIstioAmbient, "kong"}; !slices.Equal(names, want) {
		t.Errorf("steps %v, want %v", names, want)
	}
}

func TestAmbientImagesAndKongNamespace(t *testing.T) {
	imgs := UpstreamImages(testMatrix(t), cluster.MeshIstioAmbient, "")
	for _, want := range []string{"istio/install-cni:1.31.1", "istio/ztunnel:1.31.1", "istio/pilot:1.31.1", "istio/proxyv2:1.31.1"} {
		if !slices.Contains(imgs, want) {
			t.Errorf("images %v lack %s (preload and mirrors would miss it)", imgs, want)
		}
	}
	l := KongNamespaceLabels(cluster.MeshIstioAmbient, "r")
	if l[LabelDataplaneMode] != "ambient" || l["istio-injection"] != "" {
		t.Errorf("Kong namespace labels %v: want istio.io/dataplane-mode=ambient and no sidecar injection", l)
	}
}

// ambientChartMatrix points the Istio charts at the pinned test copies.
func ambientChartMatrix(t *testing.T) (Matrix, string) {
	t.Helper()
	dir := os.Getenv("MESHGATE_CHARTS_DIR")
	if dir == "" {
		t.Skip("MESHGATE_CHARTS_DIR is unset: point it at a folder holding istio-base, istiod, istio-cni and ztunnel 1.31.0-rc.0 .tgz charts")
	}
	m := testMatrix(t)
	for key, file := range map[string]string{ChartIstioBase: "istio-base", ChartIstiod: "istiod", ChartIstioCNI: "istio-cni", ChartZtunnel: "ztunnel"} {
		p := filepath.Join(dir, file+"-1.31.0-rc.0.tgz")
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("MESHGATE_CHARTS_DIR=%s: %v", dir, err)
		}
		c := m.Charts[key]
		c.Path = p
		m.Charts[key] = c
	}
	return m, KubeVersionOf(m.Kind.NodeImage)
}

// renderAmbient renders the four ambient releases with meshgate's values
// from the real charts: one fixtures.Set per release.
func renderAmbient(t *testing.T, o Options) []fixtures.Set {
	t.Helper()
	m, kv := ambientChartMatrix(t)
	rels, err := ambientReleases(m, o)
	if err != nil {
		t.Fatal(err)
	}
	var sets []fixtures.Set
	for _, r := range rels {
		ch, err := LoadChart(r.Chart, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		out, err := Render(context.Background(), r, ch, kv)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := DecodeYAML([]byte(out))
		if err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		set := fixtures.Set{Name: r.Name}
		for _, d := range docs {
			set.Objects = append(set.Objects, d)
		}
		sets = append(sets, set)
	}
	return sets
}

func findObject(sets []fixtures.Set, kind, name string) *unstructured.Unstructured {
	for _, s := range sets {
		for _, o := range s.Objects {
			if u := o.(*unstructured.Unstructured); u.GetKind() == kind && u.GetName() == name {
				return u
			}
		}
	}
	return nil
}

func firstContainer(t *testing.T, u *unstructured.Unstructured) map[string]any {
	t.Helper()
	cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	if len(cs) == 0 {
		t.Fatalf("%s %s has no containers", u.GetKind(), u.GetName())
	}
	return cs[0].(map[string]any)
}

func hostPaths(u *unstructured.Unstructured) map[string]string {
	out := map[string]string{}
	if u == nil {
		return out
	}
	vols, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "volumes")
	for _, v := range vols {
		vm := v.(map[string]any)
		if hp, ok := vm["hostPath"].(map[string]any); ok {
			out[vm["name"].(string)], _ = hp["path"].(string)
		}
	}
	return out
}

func envOf(c map[string]any) map[string]any {
	out := map[string]any{}
	env, _ := c["env"].([]any)
	for _, e := range env {
		em := e.(map[string]any)
		out[em["name"].(string)] = em["value"]
	}
	return out
}

// The charts as released, with meshgate's values: what the install and the
// readiness checks rely on is in the rendered objects.
func TestAmbientChartsRenderWithMeshgateValues(t *testing.T) {
	sets := renderAmbient(t, Options{Mesh: cluster.MeshIstioAmbient, Kind: true})
	m := testMatrix(t)
	for _, c := range []struct{ kind, name, image string }{
		{"DaemonSet", ZtunnelName, m.Images[ImageZtunnel]},
		{"DaemonSet", IstioCNIName, m.Images[ImageIstioCNI]},
		{"Deployment", IstiodName, m.Images[ImageIstioPilot]},
	} {
		u := findObject(sets, c.kind, c.name)
		if u == nil {
			t.Errorf("no %s %s rendered: the readiness check would wait forever", c.kind, c.name)
			continue
		}
		if u.GetNamespace() != IstioNamespace {
			t.Errorf("%s %s in namespace %q, want %s", c.kind, c.name, u.GetNamespace(), IstioNamespace)
		}
		if got := firstContainer(t, u)["image"]; got != c.image {
			t.Errorf("%s %s image %v, want the matrix's %s (not a -distroless tag)", c.kind, c.name, got, c.image)
		}
	}
	if istiod := findObject(sets, "Deployment", IstiodName); istiod != nil {
		if v := envOf(firstContainer(t, istiod))["PILOT_ENABLE_AMBIENT"]; v != "true" {
			t.Errorf("istiod PILOT_ENABLE_AMBIENT = %v: the ambient profile was not applied", v)
		}
	}
	cm := findObject(sets, "ConfigMap", "istio-cni-config")
	if cm == nil {
		t.Fatal("no ConfigMap istio-cni-config rendered")
	}
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	if data["AMBIENT_ENABLED"] != "true" {
		t.Errorf("istio-cni-config AMBIENT_ENABLED=%q: the cni chart's ambient profile was not applied", data["AMBIENT_ENABLED"])
	}
	paths := hostPaths(findObject(sets, "DaemonSet", IstioCNIName))
	for vol, want := range map[string]string{"cni-net-dir": "/etc/cni/net.d", "cni-bin-dir": "/opt/cni/bin"} {
		if paths[vol] != want {
			t.Errorf("istio-cni-node volume %s is hostPath %q, want kindnet's %s", vol, paths[vol], want)
		}
	}
	if injector := findObject(sets, "ConfigMap", "istio-sidecar-injector"); injector != nil {
		vals, _, _ := unstructured.NestedString(injector.Object, "data", "values")
		if !strings.Contains(vals, `"image": "`+m.Images[ImageIstioProxy]+`"`) {
			t.Errorf("istio-sidecar-injector values do not carry global.proxy.image %s: waypoints would run another image", m.Images[ImageIstioProxy])
		}
	}
}

// Every rendered object is accepted by a real API server (no controllers
// run, so nothing becomes ready; AmbientChecks say so by name).
func TestAmbientChartsOnAPIServer(t *testing.T) {
	sets := renderAmbient(t, Options{Mesh: cluster.MeshIstioAmbient, Kind: true})
	env := kubetest.Start(t, kubetest.GatewayAPI())
	for i := range sets {
		setNamespaces(t, env, sets[i].Objects)
	}
	kubetest.ApplySets(t, env, sets)
	ctx := context.Background()
	c, err := Client(&cluster.Env{REST: env.Config})
	if err != nil {
		t.Fatal(err)
	}
	if found, err := InstalledMeshes(ctx, c); err != nil || !slices.Equal(found, []string{cluster.MeshIstioAmbient}) {
		t.Errorf("InstalledMeshes = %v, %v; want [istio-ambient]: Istio's CRDs with a ztunnel DaemonSet", found, err)
	}
	for _, chk := range AmbientChecks(env.Client) {
		ok, seen, err := chk.Ready(ctx)
		if ok || err != nil {
			t.Errorf("%s: ready=%v err=%v (%s); with no controllers it must be pending and say what it saw", chk.Name, ok, err, seen)
		}
	}
}

// setNamespaces gives namespaced objects Helm's release namespace, as
// `helm install -n istio-system` does for templates that leave it out.
func setNamespaces(t *testing.T, env *kubetest.Env, objs []client.Object) {
	t.Helper()
	for _, o := range objs {
		namespaced, err := env.Client.IsObjectNamespaced(o)
		if err != nil {
			continue // a kind served only once an earlier CRD is applied
		}
		if namespaced && o.GetNamespace() == "" {
			o.SetNamespace(IstioNamespace)
		}
	}
}

func digOrNil(m map[string]any, path string) any {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}
