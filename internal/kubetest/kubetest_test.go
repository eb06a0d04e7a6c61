package kubetest

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestSkipWithoutAssets(t *testing.T) {
	t.Setenv(AssetsEnv, "")
	_, _, skip, err := start([]CRDSource{GatewayAPI()})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{AssetsEnv + " is unset", "make envtest-assets", "hack/envtest-assets.sh"} {
		if !strings.Contains(skip, w) {
			t.Errorf("skip reason %q lacks %q", skip, w)
		}
	}
}

func TestCRDSourceSkipReasons(t *testing.T) {
	for _, tc := range []struct {
		src  CRDSource
		want []string
	}{
		{Kuma(), []string{ChartsDirEnv + " and " + CRDsDirEnv + " are unset", KumaChartFile, "kuma-" + KumaVersion}},
		{Kong(), []string{ChartsDirEnv + " and " + CRDsDirEnv + " are unset", KongChartFile, "kong-chart-" + KongChartVersion}},
	} {
		t.Run(tc.src.Name, func(t *testing.T) {
			t.Setenv(CRDsDirEnv, "")
			t.Setenv(ChartsDirEnv, "")
			_, skip, err := tc.src.Resolve()
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(skip, w) {
					t.Errorf("skip reason %q lacks %q", skip, w)
				}
			}
		})
	}
}

func TestBrokenAssetsFolderIsAnError(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(AssetsEnv, dir)
	_, _, skip, err := start(nil)
	if skip != "" || err == nil || !strings.Contains(err.Error(), "kube-apiserver") || !strings.Contains(err.Error(), "make envtest-assets") {
		t.Errorf("skip %q, err %v; want an error naming the missing binary and the fix", skip, err)
	}
}

func TestMissingCRDFileIsAnError(t *testing.T) {
	t.Setenv(ChartsDirEnv, "")
	t.Setenv(CRDsDirEnv, t.TempDir())
	_, skip, err := Kong().Resolve()
	if skip != "" || err == nil || !strings.Contains(err.Error(), "custom-resource-definitions.yaml") {
		t.Errorf("skip %q, err %v; want an error naming the missing file", skip, err)
	}
}

// Every CRD source installs on a real API server and serves its kinds. The
// sources that need MESHGATE_CRDS_DIR skip on their own; the others still run.
func TestAllCRDSourcesInstall(t *testing.T) {
	kinds := map[string][]schema.GroupVersionKind{
		GatewayAPI().Name: {
			{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"},
			{Group: "gateway.networking.k8s.io", Version: "v1beta1", Kind: "ReferenceGrant"},
		},
		Istio().Name: {
			{Group: "security.istio.io", Version: "v1", Kind: "AuthorizationPolicy"},
			{Group: "security.istio.io", Version: "v1", Kind: "RequestAuthentication"},
			{Group: "networking.istio.io", Version: "v1", Kind: "DestinationRule"},
		},
		Kuma().Name: {
			{Group: "kuma.io", Version: "v1alpha1", Kind: "Mesh"},
			{Group: "kuma.io", Version: "v1alpha1", Kind: "MeshTrafficPermission"},
		},
		Kong().Name: {
			{Group: "configuration.konghq.com", Version: "v1", Kind: "KongPlugin"},
		},
	}
	var use []CRDSource
	skipped := map[string]string{}
	for _, src := range []CRDSource{GatewayAPI(), Istio(), Kuma(), Kong()} {
		if _, reason, _ := src.Resolve(); reason != "" {
			skipped[src.Name] = reason
			continue
		}
		use = append(use, src)
	}
	env := Start(t, use...)
	for name, gvks := range kinds {
		t.Run(name, func(t *testing.T) {
			if reason := skipped[name]; reason != "" {
				t.Skip(reason)
			}
			for _, gvk := range gvks {
				if _, err := env.Client.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
					t.Errorf("%s not served: %v", gvk, err)
				}
			}
		})
	}
}

func TestChartsDirWithoutTheChartIsAnError(t *testing.T) {
	t.Setenv(ChartsDirEnv, t.TempDir())
	_, skip, err := Kuma().Resolve()
	if skip != "" || err == nil || !strings.Contains(err.Error(), KumaChartFile) || !strings.Contains(err.Error(), ChartsDirEnv) {
		t.Errorf("skip %q, err %v; want an error naming %s and %s", skip, err, ChartsDirEnv, KumaChartFile)
	}
}
