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
		{Kuma(), []string{CRDsDirEnv + " is unset", "kuma-" + KumaVersion}},
		{Kong(), []string{CRDsDirEnv + " is unset", "kong-chart-" + KongChartVersion}},
	} {
		t.Run(tc.src.Name, func(t *testing.T) {
			t.Setenv(CRDsDirEnv, "")
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
	t.Setenv(CRDsDirEnv, t.TempDir())
	_, skip, err := Kong().Resolve()
	if skip != "" || err == nil || !strings.Contains(err.Error(), "custom-resource-definitions.yaml") {
		t.Errorf("skip %q, err %v; want an error naming the missing file", skip, err)
	}
}

// Every CRD source installs on a real API server and serves its kinds.
func TestAllCRDSourcesInstall(t *testing.T) {
	env := Start(t, GatewayAPI(), Istio(), Kuma(), Kong())
	for _, gvk := range []schema.GroupVersionKind{
		{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"},
		{Group: "gateway.networking.k8s.io", Version: "v1beta1", Kind: "ReferenceGrant"},
		{Group: "security.istio.io", Version: "v1", Kind: "AuthorizationPolicy"},
		{Group: "security.istio.io", Version: "v1", Kind: "RequestAuthentication"},
		{Group: "networking.istio.io", Version: "v1", Kind: "DestinationRule"},
		{Group: "kuma.io", Version: "v1alpha1", Kind: "Mesh"},
		{Group: "kuma.io", Version: "v1alpha1", Kind: "MeshTrafficPermission"},
		{Group: "configuration.konghq.com", Version: "v1", Kind: "KongPlugin"},
	} {
		if _, err := env.Client.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			t.Errorf("%s not served: %v", gvk, err)
		}
	}
}
