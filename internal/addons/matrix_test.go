package addons

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	kinddefaults "sigs.k8s.io/kind/pkg/apis/config/defaults"
)

func TestDefaultMatrixIsValidAndConsistent(t *testing.T) {
	m, err := DefaultMatrix()
	if err != nil {
		t.Fatal(err)
	}
	// Images must follow their charts, or a chart bump would run old images.
	pairs := []struct{ chart, image string }{
		{ChartKuma, ImageKumaCP}, {ChartKuma, ImageKumaDP}, {ChartKuma, ImageKumaInit}, {ChartKuma, ImageKumaCNI},
		{ChartIstiod, ImageIstioPilot}, {ChartIstiod, ImageIstioProxy}, {ChartIstioBase, ImageIstioPilot},
	}
	for _, p := range pairs {
		_, tag, err := splitImage(m.Images[p.image])
		if err != nil {
			t.Fatal(err)
		}
		if tag != m.Charts[p.chart].Version {
			t.Errorf("images.%s tag %s != charts.%s.version %s", p.image, tag, p.chart, m.Charts[p.chart].Version)
		}
	}
	if m.Charts[ChartKong].Name != "ingress" || m.Charts[ChartKong].Version != "0.24.0" {
		t.Errorf("Kong chart %+v, want ingress 0.24.0 (what Kuma's own e2e installs)", m.Charts[ChartKong])
	}
	if m.Kind.NodeImage != kinddefaults.Image {
		t.Errorf("kind.nodeImage %s is not the default node image of the kind module in go.mod (%s); take kind's default when kind moves", m.Kind.NodeImage, kinddefaults.Image)
	}
	if got := KubeVersionOf(m.Kind.NodeImage); got != "v1.37.0" {
		t.Errorf("node image Kubernetes version %q", got)
	}
	for key, ref := range m.Images {
		first, _, nested := strings.Cut(ref, "/")
		if strings.Count(ref, "/") > 1 || (nested && strings.ContainsAny(first, ".:")) {
			t.Errorf("images.%s = %q names a registry host; images are short references, --image-mirror adds a host", key, ref)
		}
	}
}

func TestLoadMatrixOverlaysAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "versions.yaml")
	overlay := "images:\n  kong: kong:3.10\ncharts:\n  kuma:\n    path: ./kuma-2.14.3.tgz\n    values:\n      controlPlane:\n        logLevel: debug\n"
	if err := os.WriteFile(file, []byte(overlay), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := LoadMatrix(file)
	if err != nil {
		t.Fatal(err)
	}
	if m.Images[ImageKong] != "kong:3.10" {
		t.Errorf("images.kong = %q", m.Images[ImageKong])
	}
	if m.Images[ImageKongController] != "kong/kubernetes-ingress-controller:3.5" {
		t.Errorf("untouched image lost: %q", m.Images[ImageKongController])
	}
	k := m.Charts[ChartKuma]
	if k.Path != "./kuma-2.14.3.tgz" || k.Version != "2.14.3" || k.Repo == "" {
		t.Errorf("kuma chart after overlay: %+v", k)
	}
	if k.Source() != "./kuma-2.14.3.tgz" {
		t.Errorf("a path must win over the repository: source %q", k.Source())
	}
	if k.Values["controlPlane"].(map[string]any)["logLevel"] != "debug" {
		t.Errorf("chart values from the file lost: %v", k.Values)
	}
}

func TestLoadMatrixErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, file string
		want       []string
	}{
		{"missing file", filepath.Join(dir, "absent.yaml"), []string{"absent.yaml"}},
		{"not yaml", write("bad.yaml", "images: [unclosed"), []string{"bad.yaml", "not YAML"}},
		{"unknown field", write("typo.yaml", "imgaes:\n  kong: kong:3.9\n"), []string{"typo.yaml", "imgaes", "valid keys:", "images.{kong,kong-controller"}},
		{"unknown image key", write("img.yaml", "images:\n  kong-contoller: kong/kubernetes-ingress-controller:3.6\n"), []string{"img.yaml", "images.kong-contoller is not an image", "known: kong, kong-controller,"}},
		{"image without tag", write("notag.yaml", "images:\n  kong: kong\n"), []string{"images.kong", "no tag"}},
		{"node image not pinned", write("pin.yaml", "kind:\n  nodeImage: kindest/node:v1.37.0\n"), []string{"not pinned by digest"}},
		{"unknown chart", write("chart.yaml", "charts:\n  linkerd:\n    path: ./x\n"), []string{"charts.linkerd is not a chart"}},
		{"gateway api skew", write("gw.yaml", "gatewayAPI:\n  version: v1.3.0\n"), []string{"v1.3.0", "go generate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadMatrix(tt.file)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestMatrixSetRefusesUnknownKeys(t *testing.T) {
	m, err := DefaultMatrix()
	if err != nil {
		t.Fatal(err)
	}
	for set, want := range map[string]string{
		"images.kong-contoller=kong/kubernetes-ingress-controller:3.6": "images.kong-contoller is not an image meshgate installs (known: kong, kong-controller,",
		"charts.kuma.pth=./kuma.tgz":                                   `unknown field "pth"`,
		"charts.linkerd.path=./l.tgz":                                  "charts.linkerd is not a chart",
		"kind.image=kindest/node:v1":                                   `unknown field "image"`,
	} {
		if _, err := m.Set(set); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--set") {
			t.Errorf("Set(%q) = %v, want an error naming --set and %q", set, err, want)
		}
	}
}

func TestMatrixSet(t *testing.T) {
	m, err := DefaultMatrix()
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Set("images.kong=kong:3.10", "charts.kong.values.gateway.replicaCount=2", "charts.istiod.path=/charts/istiod.tgz")
	if err != nil {
		t.Fatal(err)
	}
	if got.Images[ImageKong] != "kong:3.10" {
		t.Errorf("images.kong = %q", got.Images[ImageKong])
	}
	gw := got.Charts[ChartKong].Values["gateway"].(map[string]any)
	if n, ok := gw["replicaCount"].(int64); !ok || n != 2 {
		if f, ok := gw["replicaCount"].(float64); !ok || f != 2 {
			t.Errorf("replicaCount = %#v", gw["replicaCount"])
		}
	}
	if got.Charts[ChartIstiod].Path != "/charts/istiod.tgz" {
		t.Errorf("istiod path %q", got.Charts[ChartIstiod].Path)
	}
	if m.Images[ImageKong] != "kong:3.9" {
		t.Error("Set changed the matrix it was called on")
	}
	for _, bad := range []string{"images.kong", "images.kong=kong", "imagez.kong=kong:1"} {
		if _, err := m.Set(bad); err == nil {
			t.Errorf("--set %q accepted", bad)
		}
	}
}

func TestValidateNamesEveryProblem(t *testing.T) {
	err := Matrix{GatewayAPI: GatewayAPIVersion{Version: gatewayAPIVersion, Channel: "experimental"}}.Validate()
	if err == nil {
		t.Fatal("empty matrix validated")
	}
	for _, want := range []string{"kind.nodeImage is empty", "channel", "charts.kong is missing", "charts.kuma is missing", "charts.istio-base is missing", "charts.istiod is missing", "images.kong is missing", "images.istio-proxy is missing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// The envtest API server is the one the checks trust for admission and
// schema; it must be the Kubernetes minor the kind node image runs.
func TestEnvtestFollowsTheNodeImage(t *testing.T) {
	script, err := os.ReadFile("../../hack/envtest-assets.sh")
	if err != nil {
		t.Fatal(err)
	}
	pin := regexp.MustCompile(`(?m)^KUBE_VERSION=(\d+\.\d+)\.\d+$`).FindSubmatch(script)
	if pin == nil {
		t.Fatal("hack/envtest-assets.sh has no KUBE_VERSION=X.Y.Z line")
	}
	m, err := DefaultMatrix()
	if err != nil {
		t.Fatal(err)
	}
	node := strings.TrimPrefix(KubeVersionOf(m.Kind.NodeImage), "v")
	if !strings.HasPrefix(node, string(pin[1])+".") {
		t.Errorf("envtest builds Kubernetes %s.x, the kind node image runs %s", pin[1], node)
	}
}
