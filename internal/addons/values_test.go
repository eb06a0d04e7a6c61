package addons

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshgate/meshgate/internal/cluster"
)

func testMatrix(t *testing.T) Matrix {
	t.Helper()
	m, err := DefaultMatrix()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func dig(t *testing.T, m map[string]any, path string) any {
	t.Helper()
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: %q is not a map in %v", path, k, cur)
		}
		cur = mm[k]
	}
	return cur
}

func TestKongValues(t *testing.T) {
	zero := 0
	tests := []struct {
		name string
		o    Options
		want map[string]any // dotted path -> value; nil value means absent
	}{
		{"kuma on kind", Options{Mesh: cluster.MeshKuma, Kind: true}, map[string]any{
			"gateway.image.repository":                      "kong",
			"gateway.image.tag":                             "3.9",
			"controller.ingressController.image.repository": "kong/kubernetes-ingress-controller",
			"gateway.proxy.type":                            "NodePort",
			"gateway.proxy.http.nodePort":                   30080,
			"gateway.proxy.tls.nodePort":                    30443,
			"gateway.podLabels.kuma.io/mesh":                nil, // checked below: key has dots
			"gateway.deployment.serviceAccount.name":        cluster.KongServiceAccount,
		}},
		{"istio on an existing cluster", Options{Mesh: cluster.MeshIstio}, map[string]any{
			// The chart's default LoadBalancer would block Helm's wait on a
			// cluster without a load balancer controller.
			"gateway.proxy":     map[string]any{"type": "ClusterIP"},
			"gateway.podLabels": nil,
			"gateway.env":       nil,
		}},
		{"existing cluster with a load balancer", Options{Mesh: cluster.MeshKuma, ProxyServiceType: ProxyLoadBalancer}, map[string]any{
			"gateway.proxy": map[string]any{"type": "LoadBalancer"},
		}},
		{"mirror and handshake per request", Options{Mesh: cluster.MeshKuma, ImageMirror: "mirror.example/hub/", KongKeepalivePoolSize: &zero}, map[string]any{
			"gateway.image.repository":                      "mirror.example/hub/kong",
			"controller.ingressController.image.repository": "mirror.example/hub/kong/kubernetes-ingress-controller",
			"gateway.env.upstream_keepalive_pool_size":      0,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := KongValues(testMatrix(t), tt.o)
			if err != nil {
				t.Fatal(err)
			}
			for path, want := range tt.want {
				if strings.Contains(path, "kuma.io") {
					continue
				}
				if got := dig(t, v, path); !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
			if tt.o.Mesh == cluster.MeshKuma {
				for _, part := range []string{"controller", "gateway"} {
					for _, kind := range []string{"podLabels", "podAnnotations"} {
						if got := dig(t, v, part+"."+kind).(map[string]any)["kuma.io/mesh"]; got != DefaultMesh {
							t.Errorf("%s.%s[kuma.io/mesh] = %v", part, kind, got)
						}
					}
				}
			}
		})
	}
}

func TestKongValuesRefusesAnUnknownProxyServiceType(t *testing.T) {
	_, err := KongValues(testMatrix(t), Options{Mesh: cluster.MeshKuma, ProxyServiceType: "NodePort"})
	if err == nil || !strings.Contains(err.Error(), "choose ClusterIP or LoadBalancer") {
		t.Fatalf("NodePort off kind: %v", err)
	}
}

func TestKumaValues(t *testing.T) {
	m := testMatrix(t)
	v, err := KumaValues(m, Options{Mesh: cluster.MeshKuma, Kind: true, ImageMirror: "mirror.example"})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]any{
		"global.image.registry":          "mirror.example/kumahq",
		"global.image.tag":               "2.14.3",
		"controlPlane.image.repository":  "kuma-cp",
		"dataPlane.initImage.repository": "kuma-init",
		"cni.enabled":                    true,
		"cni.chained":                    true,
		"cni.netDir":                     "/etc/cni/net.d",
		"cni.binDir":                     "/opt/cni/bin",
		"cni.confName":                   "10-kindnet.conflist",
		"installCrdsOnUpgrade.enabled":   false,
		"patchSystemNamespace":           false,
		"kubectl.image.registry":         "mirror.example",
	} {
		if got := dig(t, v, path); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
	tol := dig(t, v, "cni.tolerations").([]any)[0].(map[string]any)
	if tol["key"] != cluster.LoadgenTaintKey {
		t.Errorf("CNI does not tolerate the load generator's taint: %v", tol)
	}
	noKind, err := KumaValues(m, Options{Mesh: cluster.MeshKuma})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := dig(t, noKind, "cni").(map[string]any)["enabled"]; ok {
		t.Error("CNI enabled off kind; other clusters' CNI config is unknown, the init container is the safe default")
	}
	m.Images[ImageKumaDP] = "other/kuma-dp:2.14.3"
	if _, err := KumaValues(m, Options{}); err == nil || !strings.Contains(err.Error(), "one registry") {
		t.Errorf("split registries: %v", err)
	}
}

func TestIstioValues(t *testing.T) {
	m := testMatrix(t)
	_, istiod, err := IstioValues(m, Options{Mesh: cluster.MeshIstio, ImageMirror: "mirror.example"})
	if err != nil {
		t.Fatal(err)
	}
	if got := dig(t, istiod, "global.hub"); got != "mirror.example/istio" {
		t.Errorf("hub %v", got)
	}
	if got := dig(t, istiod, "global.tag"); got != "1.31.1" {
		t.Errorf("tag %v", got)
	}
	inc := dig(t, istiod, "meshConfig.defaultConfig.proxyStatsMatcher.inclusionSuffixes").([]any)
	if len(inc) != 1 || inc[0] != "ssl.handshake" {
		t.Errorf("inclusionSuffixes %v; the suites count ssl.handshake", inc)
	}
	m.Images[ImageIstioProxy] = "istio/proxyv2:1.30.0"
	if _, _, err := IstioValues(m, Options{}); err == nil || !strings.Contains(err.Error(), "one hub and tag") {
		t.Errorf("skewed istio images: %v", err)
	}
}

func TestReleasesOrderAndOverrides(t *testing.T) {
	m := testMatrix(t)
	m, err := m.Set("charts.kong.values.gateway.image.tag=3.9.1")
	if err != nil {
		t.Fatal(err)
	}
	for mesh, want := range map[string][]string{
		cluster.MeshKuma:  {"kuma-system/kuma", "kong/kong"},
		cluster.MeshIstio: {"istio-system/istio-base", "istio-system/istiod", "kong/kong"},
	} {
		rels, err := Releases(m, Options{Mesh: mesh})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rels {
			got = append(got, r.Namespace+"/"+r.Name)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s releases %v, want %v", mesh, got, want)
		}
		kong := rels[len(rels)-1]
		if tag := dig(t, kong.Values, "gateway.image.tag"); tag != "3.9.1" {
			t.Errorf("matrix chart values must win over meshgate's: tag %v", tag)
		}
		if repo := dig(t, kong.Values, "gateway.image.repository"); repo != "kong" {
			t.Errorf("merge lost meshgate's sibling value: %v", repo)
		}
	}
	if _, err := Releases(m, Options{Mesh: "linkerd"}); err == nil {
		t.Error("unknown mesh accepted")
	}
}

const miniChart = "testdata/charts/mini"

func renderMini(t *testing.T, values map[string]any) []*unstructured.Unstructured {
	t.Helper()
	r := Release{Key: "mini", Name: "kong", Namespace: "kong", Chart: Chart{Path: miniChart}, Values: values}
	ch, err := LoadChart(r.Chart, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out, err := Render(context.Background(), r, ch, "v1.37.0")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := DecodeYAML([]byte(out))
	if err != nil {
		t.Fatalf("rendered manifest is not YAML: %v\n%s", err, out)
	}
	return objs
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func TestRenderLocalChartWithMeshgateValues(t *testing.T) {
	zero := 0
	v, err := KongValues(testMatrix(t), Options{Mesh: cluster.MeshKuma, Kind: true, KongKeepalivePoolSize: &zero})
	if err != nil {
		t.Fatal(err)
	}
	// The mini chart has the kong subchart's value layout at its top level.
	objs := renderMini(t, v["gateway"].(map[string]any))
	if find(objs, "CustomResourceDefinition", "widgets.mini.meshgate.io") == nil {
		t.Error("chart CRDs missing from the render")
	}
	dep := find(objs, "Deployment", "kong-mini")
	if dep == nil {
		t.Fatalf("no Deployment in %d objects", len(objs))
	}
	c, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	app := c[0].(map[string]any)
	if app["image"] != "kong:3.9" {
		t.Errorf("image %v", app["image"])
	}
	if env := app["env"].([]any)[0].(map[string]any); env["name"] != "KONG_UPSTREAM_KEEPALIVE_POOL_SIZE" || env["value"] != "0" {
		t.Errorf("env %v", env)
	}
	ann, _, _ := unstructured.NestedStringMap(dep.Object, "spec", "template", "metadata", "annotations")
	if ann["kuma.io/gateway"] != "enabled" || ann["kuma.io/mesh"] != DefaultMesh {
		t.Errorf("pod annotations %v: the chart's kuma.io/gateway default and meshgate's kuma.io/mesh must merge", ann)
	}
	svc := find(objs, "Service", "kong-mini-proxy")
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	if typ, _, _ := unstructured.NestedString(svc.Object, "spec", "type"); typ != "NodePort" || fmt.Sprint(ports[0].(map[string]any)["nodePort"]) != "30080" {
		t.Errorf("proxy service %s ports %v", typ, ports)
	}
}

func TestLoadChartErrorsNameTheFix(t *testing.T) {
	_, err := LoadChart(Chart{Path: filepath.Join(t.TempDir(), "absent.tgz")}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "absent.tgz") || !strings.Contains(err.Error(), "Chart.yaml") {
		t.Errorf("missing local chart: %v", err)
	}
	// No repository is reachable here: the error must say how to go offline.
	_, err = LoadChart(Chart{Repo: "http://127.0.0.1:1/charts", Name: "kuma", Version: "2.14.3"}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "charts.<key>.path") {
		t.Errorf("unreachable repository: %v", err)
	}
}

func TestEmbeddedGatewayAPICRDsMatchTheModule(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		t.Skipf("go list -m sigs.k8s.io/gateway-api: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "standard")
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	embedded, err := GatewayAPICRDs()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 || len(embedded) != len(files) {
		t.Fatalf("module has %d CRD files, %d embedded; run go generate ./internal/addons", len(files), len(embedded))
	}
	for _, f := range files {
		want, _ := exec.Command("cat", f).Output()
		got, err := gatewayAPICRDs.ReadFile("gatewayapi/" + filepath.Base(f))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s differs from the module's copy; run go generate ./internal/addons", filepath.Base(f))
		}
	}
	names := map[string]bool{}
	for _, c := range embedded {
		names[c.GetName()] = true
	}
	for _, n := range []string{"gatewayclasses.gateway.networking.k8s.io", "gateways.gateway.networking.k8s.io", "httproutes.gateway.networking.k8s.io", "referencegrants.gateway.networking.k8s.io", "grpcroutes.gateway.networking.k8s.io"} {
		if !names[n] {
			t.Errorf("CRD %s not embedded", n)
		}
	}
}

// A repository pull must leave the user's own Helm cache and configuration
// alone: everything lands in meshgate's cache folder.
func TestPullFromRepositoryStaysInMeshgateCache(t *testing.T) {
	home := t.TempDir()
	for _, v := range []string{"HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"} {
		t.Setenv(v, home)
	}
	repoDir := t.TempDir()
	ch, err := LoadChart(Chart{Path: miniChart}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chartutil.Save(ch, repoDir); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(repoDir)))
	defer srv.Close()
	index, err := repo.IndexDirectory(repoDir, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := index.WriteFile(filepath.Join(repoDir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}

	cache := t.TempDir()
	c := Chart{Repo: srv.URL, Name: "mini", Version: "0.1.0"}
	pulled, err := LoadChart(c, cache)
	if err != nil {
		t.Fatal(err)
	}
	if pulled.Metadata.Version != "0.1.0" || CachedChart(cache, c) == "" {
		t.Errorf("pulled %s, cached at %q", pulled.Metadata.Version, CachedChart(cache, c))
	}
	if left, _ := os.ReadDir(home); len(left) > 0 {
		t.Errorf("pulling a chart wrote %s in the user's home (its Helm cache)", left[0].Name())
	}
}
