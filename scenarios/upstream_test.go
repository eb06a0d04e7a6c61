package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/fixtures"
	meshclient "github.com/meshgate/meshgate/fixtures/client"
	istiofx "github.com/meshgate/meshgate/fixtures/istio"
	"github.com/meshgate/meshgate/fixtures/kuma"
	"github.com/meshgate/meshgate/internal/addons"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/kubetest"
)

// pinnedMatrix is the default version matrix with every chart read from
// $MESHGATE_CHARTS_DIR (charts.<key>.path, as a user overrides it); it
// skips t when that is unset.
func pinnedMatrix(t *testing.T) addons.Matrix {
	t.Helper()
	sets, skip, err := kubetest.ChartOverrides()
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
	if m, err = m.Set(sets...); err != nil {
		t.Fatal(err)
	}
	return m
}

// renderReleases renders every release `up` would install for o through
// addons (Releases, LoadChart, Render), each object with its release's
// namespace where the chart leaves it out.
func renderReleases(t *testing.T, m addons.Matrix, o addons.Options) []*unstructured.Unstructured {
	t.Helper()
	rels, err := addons.Releases(m, o)
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	for _, r := range rels {
		ch, err := addons.LoadChart(r.Chart, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		// Every supported cluster serves IngressClass; the kong chart renders
		// its IngressClass only when told so (templates/ingress-class.yaml).
		manifest, err := addons.Render(t.Context(), r, ch, addons.KubeVersionOf(m.Kind.NodeImage), "networking.k8s.io/v1/IngressClass")
		if err != nil {
			t.Fatal(err)
		}
		objs, err := addons.DecodeYAML([]byte(manifest))
		if err != nil {
			t.Fatalf("release %s: %v", r.Name, err)
		}
		for _, obj := range objs {
			if obj.GetNamespace() == "" {
				obj.SetNamespace(r.Namespace)
			}
			out = append(out, obj)
		}
	}
	return out
}

// scenarioSets are the fixture sets every scenario of mesh applies, once each.
func scenarioSets(mesh Mesh) []fixtures.Set {
	var sets []fixtures.Set
	seen := map[string]bool{}
	for _, sc := range For(mesh, DefaultConfig()) {
		for _, ph := range sc.Phases {
			for _, s := range ph.Apply {
				if !seen[s.Name] {
					seen[s.Name] = true
					sets = append(sets, s)
				}
			}
		}
	}
	return sets
}

// upstreamEnv is one mesh and provider installed the way `up` installs it,
// on a real API server: Gateway API CRDs, meshgate's namespaces, the
// rendered releases with their webhooks pointed at a recording server.
type upstreamEnv struct {
	env    *kubetest.Env
	hooks  *kubetest.Webhooks
	charts []*unstructured.Unstructured // the rendered objects
}

func installUpstream(t *testing.T, mesh string, provider string) *upstreamEnv {
	t.Helper()
	m := pinnedMatrix(t)
	objs := renderReleases(t, m, addons.Options{Mesh: mesh, Kind: provider == cluster.ProviderKind, KongPlain: true})
	env := kubetest.Start(t)
	ctx := t.Context()
	cenv := &cluster.Env{REST: env.Config, RunID: "envtest", Provider: provider, Mesh: mesh}
	// The namespaces as up creates them: Kong's labelled for injection
	// before the mesh, the plain Kong's (bench) labelled out of every mesh,
	// Kuma's with the labels the chart's hook would set, the others (Helm's
	// CreateNamespace) unlabelled.
	steps := []cluster.Step{addons.InstallGatewayAPICRDs(addons.Timeouts{CRDs: time.Minute}), addons.CreateKongNamespace(mesh), addons.CreateKongPlainNamespace()}
	if err := cluster.RunSteps(ctx, cenv, steps...); err != nil {
		t.Fatal(err)
	}
	if mesh == cluster.MeshKuma {
		ensureNS(t, env, addons.KumaNamespace, addons.KumaNamespaceLabels("envtest"))
	}
	crds, rest := splitCRDs(objs)
	applyAll(t, env, crds)
	waitEstablished(t, env, crds)
	mutating, validating, rest, err := kubetest.SplitWebhookConfigurations(rest)
	if err != nil {
		t.Fatal(err)
	}
	if len(mutating) == 0 {
		t.Fatalf("the %s charts rendered no MutatingWebhookConfiguration: no injector to test", mesh)
	}
	hooks := kubetest.ServeWebhooks(t, env.Config, mutating, validating)
	applyAll(t, env, rest)
	return &upstreamEnv{env: env, hooks: hooks, charts: objs}
}

func splitCRDs(objs []*unstructured.Unstructured) (crds, rest []*unstructured.Unstructured) {
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			o.SetNamespace("")
			crds = append(crds, o)
		} else {
			rest = append(rest, o)
		}
	}
	return crds, rest
}

func ensureNS(t *testing.T, env *kubetest.Env, name string, labels map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := env.Client.Patch(t.Context(), ns, client.Apply, client.FieldOwner("envtest"), client.ForceOwnership); err != nil {
		t.Fatal(err)
	}
}

// applyAll applies rendered objects server-side, as Helm 4 does: a missing
// namespace created first (up's installs set CreateNamespace), the
// namespace of cluster-scoped objects dropped.
func applyAll(t *testing.T, env *kubetest.Env, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		namespaced, err := env.Client.IsObjectNamespaced(o)
		if err != nil {
			t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
		}
		if namespaced {
			ensureNS(t, env, o.GetNamespace(), nil)
		} else {
			o.SetNamespace("")
		}
		if err := env.Client.Patch(t.Context(), o, client.Apply, client.FieldOwner("helm"), client.ForceOwnership); err != nil {
			t.Errorf("the API server refused %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
}

func waitEstablished(t *testing.T, env *kubetest.Env, crds []*unstructured.Unstructured) {
	t.Helper()
	c, err := addons.Client(&cluster.Env{REST: env.Config})
	if err != nil {
		t.Fatal(err)
	}
	var checks []addons.Check
	for _, crd := range crds {
		checks = append(checks, addons.CRDEstablished(c, crd.GetName()))
	}
	if err := addons.Wait(t.Context(), nil, "chart CRDs", time.Minute, checks...); err != nil {
		t.Fatal(err)
	}
}

// podFrom is the pod a Deployment's ReplicaSet would create (envtest runs no
// controllers, so the test creates it).
func podFrom(d *appsv1.Deployment, name string) *corev1.Pod {
	meta := *d.Spec.Template.ObjectMeta.DeepCopy()
	meta.Name, meta.Namespace = name, d.Namespace
	return &corev1.Pod{ObjectMeta: meta, Spec: *d.Spec.Template.Spec.DeepCopy()}
}

func deployments(objs []client.Object) ([]*appsv1.Deployment, error) {
	var out []*appsv1.Deployment
	for _, o := range objs {
		switch v := o.(type) {
		case *appsv1.Deployment:
			out = append(out, v)
		case *unstructured.Unstructured:
			if v.GetKind() != "Deployment" {
				continue
			}
			d := &appsv1.Deployment{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(v.Object, d); err != nil {
				return nil, err
			}
			if d.Namespace == "" {
				return nil, fmt.Errorf("deployment %s has no namespace", d.Name)
			}
			out = append(out, d)
		}
	}
	return out, nil
}

func asObjects(us []*unstructured.Unstructured) []client.Object {
	out := make([]client.Object, len(us))
	for i, u := range us {
		out[i] = u
	}
	return out
}

func injectors(mesh string) func(webhook string) bool {
	if mesh == cluster.MeshKuma {
		return func(w string) bool { return strings.HasSuffix(w, "kuma-injector.kuma.io") }
	}
	return func(w string) bool { return strings.HasSuffix(w, "sidecar-injector.istio.io") }
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// plainKong prefixes the plain Kong's Deployments (bench mode kong): no
// injector may see its pods.
const plainKong = cluster.KongPlainNamespace + "/"

// Which mesh injector webhooks each workload's pods must reach, by
// namespace/Deployment; none for workloads that must stay outside the mesh.
// Every Deployment of the charts and of every scenario's fixture sets needs
// a row.
var wantInjectors = map[string]map[string][]string{
	cluster.MeshKuma: {
		"kong/" + cluster.KongControllerName:           {"namespace-kuma-injector.kuma.io"},
		"kong/" + cluster.KongGatewayName:              {"namespace-kuma-injector.kuma.io"},
		addons.KumaNamespace + "/" + addons.KumaCPName: nil,
		plainKong + cluster.KongPlainControllerName:    nil,
		plainKong + cluster.KongPlainGatewayName:       nil,
		// The backends opt in by pod label; their namespace must carry the
		// label (disabled) or Kuma's pods webhook is never asked.
		kuma.Namespace + "/" + kuma.Backend:          {"pods-kuma-injector.kuma.io"},
		meshclient.Namespace + "/" + meshclient.Name: nil,
	},
	cluster.MeshIstio: {
		"kong/" + cluster.KongControllerName:                     {"namespace.sidecar-injector.istio.io"},
		"kong/" + cluster.KongGatewayName:                        {"namespace.sidecar-injector.istio.io"},
		addons.IstioNamespace + "/" + addons.IstiodName:          nil,
		plainKong + cluster.KongPlainControllerName:              nil,
		plainKong + cluster.KongPlainGatewayName:                 nil,
		istiofx.DefaultNamespace + "/" + istiofx.DefaultBackend:  {"namespace.sidecar-injector.istio.io"},
		istiofx.DefaultNamespace + "/" + istiofx.DefaultJWKSName: {"namespace.sidecar-injector.istio.io"},
		meshclient.Namespace + "/" + meshclient.Name:             nil,
	},
}

// TestUpstreamChartsAndAdmission renders every release `up` installs from the
// pinned upstream charts with meshgate's values, for each mesh and provider,
// creates the objects on a real API server with every scenario's fixture
// sets (all must be accepted), and then creates one pod per Deployment, the
// way its ReplicaSet would: the charts' own webhook configurations, served by
// a recording server, show which pods reach the mesh's sidecar injector.
func TestUpstreamChartsAndAdmission(t *testing.T) {
	for _, mesh := range []string{cluster.MeshKuma, cluster.MeshIstio} {
		for _, provider := range []string{cluster.ProviderKind, cluster.ProviderExisting} {
			t.Run(mesh+"/"+provider, func(t *testing.T) {
				u := installUpstream(t, mesh, provider)
				want := wantInjectors[mesh]
				got := map[string][]string{}
				reach := func(t *testing.T, objs []client.Object, suffix string) {
					deps, err := deployments(objs)
					if err != nil {
						t.Fatal(err)
					}
					for _, d := range deps {
						key := d.Namespace + "/" + d.Name
						pod := podFrom(d, d.Name+"-"+suffix)
						if err := u.env.Client.Create(t.Context(), pod); err != nil {
							t.Errorf("pod of %s refused: %v", key, err)
							continue
						}
						reached := slices.DeleteFunc(u.hooks.Reached("pods", pod.Namespace, pod.Name), func(w string) bool { return !injectors(mesh)(w) })
						if prev, seen := got[key]; seen && !slices.Equal(prev, reached) {
							t.Errorf("%s: pods reached %v in one set and %v in another", key, prev, reached)
						}
						got[key] = reached
					}
				}
				reach(t, asObjects(u.charts), "chart")
				for i, set := range scenarioSets(Mesh(mesh)) {
					kubetest.ApplySets(t, u.env, []fixtures.Set{set})
					reach(t, set.Objects, fmt.Sprint(i))
				}
				for _, key := range sortedKeys(got) {
					w, ok := want[key]
					switch {
					case !ok:
						t.Errorf("%s reached %v: add it to wantInjectors", key, got[key])
					case !slices.Equal(got[key], w):
						t.Errorf("%s: pods reached injector webhooks %v, want %v", key, got[key], w)
					}
				}
				for _, key := range sortedKeys(want) {
					if _, ok := got[key]; !ok {
						t.Errorf("no Deployment %s rendered: the table is stale", key)
					}
				}
			})
		}
	}
}
