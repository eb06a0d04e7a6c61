package bench

import (
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/fixtures"
	istiofx "github.com/meshgate/meshgate/fixtures/istio"
	kumafx "github.com/meshgate/meshgate/fixtures/kuma"
	"github.com/meshgate/meshgate/internal/cluster"
	mgprobe "github.com/meshgate/meshgate/internal/probe"
)

// ModeObjects are the objects one mode relies on beyond the shared backend
// (namespaces, the echo in each, the plain route): what `meshgate bench
// --dry-run` prints under the mode's name.
type ModeObjects struct {
	Mode    string
	Objects []client.Object
}

// ObjectsByMode lists the shared objects first (Mode "shared"), then each
// planned mode that adds any.
func (p ClusterPlan) ObjectsByMode() []ModeObjects {
	out := []ModeObjects{{Mode: "shared", Objects: p.sharedObjects()}}
	for _, m := range p.Modes {
		if objs := p.modeObjects(m.Name); len(objs) > 0 {
			out = append(out, ModeObjects{Mode: m.Name, Objects: objs})
		}
	}
	return out
}

// AllObjects is every object of the plan once, in the order ObjectsByMode
// gives them (kube.Client.Apply sorts them for applying).
func (p ClusterPlan) AllObjects() []client.Object {
	seen := map[string]bool{}
	var out []client.Object
	for _, g := range p.ObjectsByMode() {
		for _, o := range g.Objects {
			gvk, _ := fixtures.GVK(o)
			key := fmt.Sprintf("%s/%s/%s", gvk.Kind, o.GetNamespace(), o.GetName())
			if !seen[key] {
				seen[key] = true
				out = append(out, o)
			}
		}
	}
	return out
}

func (p ClusterPlan) modeObjects(mode string) []client.Object {
	switch mode {
	case ModeMesh, ModeMeshWaypoint:
		return p.mtlsObjects()
	case ModeKongMesh:
		return append(p.mtlsObjects(), p.kongMeshObjects()...)
	case ModeKongMeshJWT:
		return append(p.mtlsObjects(), p.jwtObjects()...)
	case ModeKongMeshWaypoint:
		return append(p.mtlsObjects(), p.ambientObjects()...)
	}
	return nil
}

// mtlsObjects turn STRICT mTLS on for the meshed namespace: Kuma's default
// Mesh with a builtin CA in STRICT mode and an allow-all
// MeshTrafficPermission (with mTLS on and no permission, Kuma since 2.6
// denies everything); Istio's namespace-wide PeerAuthentication STRICT
// (enforced by the sidecars, or by ztunnel in ambient mode).
func (p ClusterPlan) mtlsObjects() []client.Object {
	if p.Options.Mesh == cluster.MeshKuma {
		return []client.Object{kumafx.MeshObject(kumafx.Strict), kumafx.AllowAllPermission()}
	}
	return []client.Object{istiofx.PeerAuthentication(istiofx.Options{Namespace: p.Options.MeshNamespace}, "STRICT")}
}

// JWT mode objects: a second echo (so the policy guards only this mode's
// requests), Kong's route to it, and Istio's RequestAuthentication and
// AuthorizationPolicy (fixtures/istio: issuer, audience and scope rules as
// the JWT scenarios use) with the bench issuer's inline JWKS.
func (p ClusterPlan) jwtObjects() []client.Object {
	o := p.Options
	name := p.jwtEcho()
	dep, svc := p.echoNamed(o.MeshNamespace, name)
	fx := p.jwtFixture()
	return []client.Object{dep, svc, p.kongMeshRoute("bench-jwt", "/bench/jwt", name, int32(o.EchoPort)),
		istiofx.RequestAuthentication(fx, false), istiofx.AuthorizationPolicy(fx)}
}

func (p ClusterPlan) jwtEcho() string { return p.Options.EchoName + "-jwt" }

func (p ClusterPlan) jwtFixture() istiofx.Options {
	return istiofx.Options{Namespace: p.Options.MeshNamespace, Backend: p.jwtEcho(), JWKS: p.jwks}.Defaults()
}

// newBenchIssuer mints the run's signing key and a token that stays valid
// for the whole bench (validFor), signed for the JWT fixture's issuer and
// audience with the scope its AuthorizationPolicy asks for.
func newBenchIssuer(validFor time.Duration) (jwks, token string, err error) {
	fx := istiofx.Options{}.Defaults()
	iss, err := mgprobe.NewJWTIssuer(fx.Issuer, fx.Audiences[0], "meshgate-bench")
	if err != nil {
		return "", "", err
	}
	if jwks, err = iss.JWKS(); err != nil {
		return "", "", err
	}
	token, err = iss.MintValidFor(time.Now(), validFor)
	return jwks, token, err
}
