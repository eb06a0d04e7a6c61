package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	kumafx "github.com/meshgate/meshgate/fixtures/kuma"

	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/kube"
	"github.com/meshgate/meshgate/internal/kubetest"
	mgprobe "github.com/meshgate/meshgate/internal/probe"
)

// kinds lists "Kind namespace/name" of objs.
func kinds(objs []ModeObjects, mode string) []string {
	var out []string
	for _, g := range objs {
		if g.Mode != mode {
			continue
		}
		for _, o := range g.Objects {
			out = append(out, o.GetObjectKind().GroupVersionKind().Kind+" "+o.GetNamespace()+"/"+o.GetName())
		}
	}
	return out
}

// Each mode applies what its name says: STRICT mTLS where a mesh is
// crossed, the Kuma bridge that names the Service's port, the JWT policy only
// on the JWT mode's own echo.
func TestObjectsByMode(t *testing.T) {
	tests := []struct {
		mesh, mode string
		want       []string
	}{
		{cluster.MeshKuma, ModeMesh, []string{"Mesh /default", "MeshTrafficPermission kuma-system/allow-all"}},
		{cluster.MeshKuma, ModeKongMesh, []string{"Mesh /default", "MeshTrafficPermission kuma-system/allow-all",
			"Service meshgate-bench-mesh/echo-bench-bridge", "Ingress meshgate-bench-mesh/bench-mesh"}},
		{cluster.MeshIstio, ModeMesh, []string{"PeerAuthentication meshgate-bench-mesh/default"}},
		{cluster.MeshIstio, ModeKongMeshJWT, []string{"PeerAuthentication meshgate-bench-mesh/default",
			"Deployment meshgate-bench-mesh/echo-bench-jwt", "Service meshgate-bench-mesh/echo-bench-jwt", "Ingress meshgate-bench-mesh/bench-jwt",
			"RequestAuthentication meshgate-bench-mesh/jwt-validation", "AuthorizationPolicy meshgate-bench-mesh/order-access-control"}},
		{cluster.MeshIstioAmbient, ModeKongMeshWaypoint, []string{"PeerAuthentication meshgate-bench-mesh/default",
			"Gateway meshgate-bench-mesh/waypoint", "Service meshgate-bench-mesh/echo-bench-waypoint", "Ingress meshgate-bench-mesh/bench-waypoint"}},
		{cluster.MeshKuma, ModeBaseline, nil},
	}
	for _, tt := range tests {
		t.Run(tt.mesh+"/"+tt.mode, func(t *testing.T) {
			p, err := NewClusterPlan(ClusterOptions{Mesh: tt.mesh})
			if err != nil {
				t.Fatal(err)
			}
			if got := kinds(p.ObjectsByMode(), tt.mode); strings.Join(got, ", ") != strings.Join(tt.want, ", ") {
				t.Errorf("objects\\n got %v\\nwant %v", got, tt.want)
			}
		})
	}
}

func TestKumaMeshIsStrict(t *testing.T) {
	p, _ := NewClusterPlan(ClusterOptions{Mesh: cluster.MeshKuma})
	for _, o := range p.AllObjects() {
		if u, ok := o.(*unstructured.Unstructured); ok && u.GetKind() == "Mesh" {
			backends, _, _ := unstructured.NestedSlice(u.Object, "spec", "mtls", "backends")
			enabled, _, _ := unstructured.NestedString(u.Object, "spec", "mtls", "enabledBackend")
			if len(backends) != 1 || backends[0].(map[string]any)["mode"] != "STRICT" || enabled != backends[0].(map[string]any)["name"] {
				t.Errorf("Mesh mtls = %v (enabled %q), want one STRICT backend enabled", backends, enabled)
			}
			return
		}
	}
	t.Fatal("the Kuma plan applies no Mesh: the meshed modes would cross a plaintext hop")
}

// The JWT mode's token is one the RequestAuthentication it applies accepts,
// and it outlives a long bench.
func TestJWTModeTokenMatchesItsPolicy(t *testing.T) {
	p, err := NewClusterPlan(ClusterOptions{Mesh: cluster.MeshIstio, JWTValidFor: 6 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var token string
	for _, m := range p.Modes {
		if m.Name == ModeKongMeshJWT {
			token = strings.TrimPrefix(m.Header.Get("Authorization"), "Bearer ")
		}
	}
	if token == "" {
		t.Fatal("kong-mesh-jwt sends no bearer token")
	}
	claims, err := mgprobe.VerifyWithJWKS(token, p.jwks, time.Now().Add(5*time.Hour))
	if err != nil {
		t.Fatalf("token does not verify with the JWKS the policy carries, 5 h in: %v", err)
	}
	fx := p.jwtFixture()
	if claims["iss"] != fx.Issuer || claims["aud"] != fx.Audiences[0] || claims["scope"] != mgprobe.ScopeOrdersRead {
		t.Errorf("claims %v, want iss %s, aud %s, scope %s", claims, fx.Issuer, fx.Audiences[0], mgprobe.ScopeOrdersRead)
	}
}

// The API server (with the Kuma, Istio and Gateway API CRDs) accepts every
// object of every mesh's plan, applied the way RunCluster applies them, twice.
func TestPlanObjectsAcceptedByTheAPIServer(t *testing.T) {
	env := kubetest.Start(t, kubetest.GatewayAPI(), kubetest.Istio(), kubetest.Kuma())
	kc, err := kube.New(env.Config, "bench-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// What the Kuma install creates; the allow-all permission lives there.
	kumaNS := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: kumafx.SystemNS}}
	if err := kc.Apply(ctx, kumaNS); err != nil {
		t.Fatal(err)
	}
	for _, mesh := range cluster.Meshes {
		p, err := NewClusterPlan(ClusterOptions{Mesh: mesh, Namespace: "b-" + mesh, MeshNamespace: "bm-" + mesh})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := kc.Apply(ctx, p.AllObjects()...); err != nil {
				t.Fatalf("%s: %v", mesh, err)
			}
		}
	}
}
