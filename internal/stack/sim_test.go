package stack_test

// `meshgate up --existing` and `down` on the simulated cluster (kubetest.StartSim):
// the real charts, Helm's waits, meshgate's readiness checks and cleanup,
// against a real API server, controller manager and scheduler, with kwok's
// fake nodes running the pods as API objects. `make test-sim` runs these.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/meshgate/meshgate/bench"
	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/fixtures/ambient"
	"github.com/meshgate/meshgate/fixtures/istio"
	"github.com/meshgate/meshgate/fixtures/kuma"
	"github.com/meshgate/meshgate/internal/addons"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/kube"
	"github.com/meshgate/meshgate/internal/kubetest"
	"github.com/meshgate/meshgate/internal/stack"
	"github.com/meshgate/meshgate/scenarios"
)

// chartsDirEnv names the folder holding the pinned upstream charts.
const chartsDirEnv = "MESHGATE_CHARTS_DIR"

// simChartFiles are the pinned charts' files in MESHGATE_CHARTS_DIR.
var simChartFiles = map[string]string{
	addons.ChartKong:      "ingress-0.24.0.tgz",
	addons.ChartKuma:      "kuma-2.14.3.tgz",
	addons.ChartIstioBase: "istio-base-1.31.0-rc.0.tgz",
	addons.ChartIstiod:    "istiod-1.31.0-rc.0.tgz",
	addons.ChartIstioCNI:  "istio-cni-1.31.0-rc.0.tgz",
	addons.ChartZtunnel:   "ztunnel-1.31.0-rc.0.tgz",
}

// simMeshes: the sidecar each mesh's injector webhooks add. Webhook names
// from kuma 2.14.3 templates/cp-webhooks-and-secrets.yaml
// ({namespace,pods}-kuma-injector.kuma.io) and istiod 1.31.0-rc.0
// templates/mutatingwebhook.yaml (*.sidecar-injector.istio.io).
// Kuma is taken down in-process (stack.Down), Istio the way `meshgate down
// --run DIR` does from another process (the state file's records).
var simMeshes = []struct {
	mesh      string
	injector  string
	sidecar   string
	namespace string // the mesh's control plane namespace
	fixtures  func() (fixtures.Set, error)
	down      func(ctx context.Context, env *cluster.Env) error
}{
	{cluster.MeshKuma, "kuma-injector.kuma.io", addons.KumaSidecar, addons.KumaNamespace,
		func() (fixtures.Set, error) { return kuma.Variant(kuma.Defaults(), kuma.VariantPodIP502) }, downInProcess},
	{cluster.MeshIstio, "sidecar-injector.istio.io", addons.IstioSidecar, addons.IstioNamespace,
		func() (fixtures.Set, error) { return firstSet(istio.Variants(istio.Options{})) }, downFromStateFile},
	// Ambient: no sidecar anywhere; Kong's namespace is enrolled by label and
	// ztunnel and istio-cni run as DaemonSets on every (fake) node.
	{cluster.MeshIstioAmbient, "", "", addons.IstioNamespace,
		func() (fixtures.Set, error) { return firstSet(ambient.Variants(ambient.Options{})) }, downInProcess},
}

// firstSet takes the first variant; an error that still rendered sets only
// says some variants were left out (the JWT ones need the run's key set).
func firstSet(sets []fixtures.Set, err error) (fixtures.Set, error) {
	if len(sets) == 0 {
		return fixtures.Set{}, fmt.Errorf("no fixture sets: %v", err)
	}
	return sets[0], nil
}

// withoutGatewayAPI drops Gateways and HTTPRoutes: only Kong's controller
// accepts them, and it does not run here (the admission tests create them).
func withoutGatewayAPI(set fixtures.Set) fixtures.Set {
	var objs []client.Object
	for _, o := range set.Objects {
		gvk, err := apiutil.GVKForObject(o, fixtures.Scheme())
		if err == nil && gvk.Group == "gateway.networking.k8s.io" {
			continue
		}
		objs = append(objs, o)
	}
	set.Objects = objs
	return set
}

func downInProcess(ctx context.Context, env *cluster.Env) error {
	return stack.Down(ctx, env, stack.DownOptions{Timeout: 2 * time.Minute})
}

func downFromStateFile(ctx context.Context, env *cluster.Env) error {
	if err := env.Close(ctx); err != nil { // this process's port-forwards
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return stack.DownRun(ctx, env.RunDir, env.Logger())
}

func TestSimUpDown(t *testing.T) {
	for _, tc := range simMeshes {
		t.Run(tc.mesh, func(t *testing.T) {
			sidecars := map[string]string{}
			if tc.injector != "" {
				sidecars[tc.injector] = tc.sidecar
			}
			h := newSimHarness(t, sidecars)
			before := h.userObjects(t)
			opts := h.options(t, tc.mesh)
			opts.KongPlain = true // as `meshgate bench --mesh` asks
			env, err := stack.Up(t.Context(), opts)
			if err != nil {
				t.Fatalf("up: %v", err)
			}
			t.Run("up", func(t *testing.T) {
				if got := h.adminCalls.Load(); got == 0 {
					t.Errorf("Kong admin /status was never reached through the port-forward to the gateway pod")
				}
				h.assertNamespaceLabel(t, cluster.KongNamespace, addons.KongNamespaceLabels(tc.mesh, env.RunID))
				if tc.sidecar == "" {
					h.assertKongWithoutSidecar(t)
				} else {
					h.assertInjected(t, tc.sidecar)
				}
				if n := len(h.helmReleases(t)); n == 0 {
					t.Errorf("no Helm release recorded on the cluster")
				}
			})
			t.Run("plain Kong", func(t *testing.T) {
				h.assertNamespaceLabel(t, cluster.KongPlainNamespace, addons.KongPlainNamespaceLabels(env.RunID))
				h.assertPlainKong(t, env, sidecars)
			})
			t.Run("fixtures", func(t *testing.T) {
				set, err := tc.fixtures()
				if err != nil {
					t.Fatal(err)
				}
				set = withoutGatewayAPI(set)
				// The scenarios' applier: server-side apply with the run label,
				// then Deployments available and Pods ready on the fake nodes.
				a := &scenarios.KubeApplier{Client: h.sim.Client, RunID: env.RunID, Wait: 2 * time.Minute, Poll: 500 * time.Millisecond, Log: env.Logger()}
				defer func() {
					if err := a.Cleanup(context.WithoutCancel(t.Context())); err != nil {
						t.Errorf("cleaning up %s: %v", set.Name, err)
					}
				}()
				if err := a.Apply(t.Context(), set); err != nil {
					t.Fatalf("applying %s: %v", set.Name, err)
				}
				for _, o := range set.Objects {
					if _, ok := o.(*appsv1.Deployment); !ok {
						continue
					}
					var d appsv1.Deployment
					if err := h.sim.Client.Get(t.Context(), client.ObjectKeyFromObject(o), &d); err != nil {
						t.Fatal(err)
					}
					if d.Status.AvailableReplicas == 0 {
						t.Errorf("fixture Deployment %s/%s has no available replica after apply", d.Namespace, d.Name)
					}
					t.Logf("fixture Deployment %s/%s: %d available", d.Namespace, d.Name, d.Status.AvailableReplicas)
				}
			})
			// The objects `meshgate bench --mesh` applies (bench --dry-run
			// prints them), on the cluster with the mesh's charts installed.
			t.Run("bench objects", func(t *testing.T) {
				plan, err := bench.NewClusterPlan(bench.ClusterOptions{Mesh: tc.mesh})
				if err != nil {
					t.Fatal(err)
				}
				kc, err := kube.New(h.sim.Config, "bench-"+env.RunID, env.Logger())
				if err != nil {
					t.Fatal(err)
				}
				defer func() {
					if err := kc.Cleanup(context.WithoutCancel(t.Context())); err != nil {
						t.Errorf("cleaning up the bench objects: %v", err)
					}
				}()
				if err := kc.Apply(t.Context(), plan.AllObjects()...); err != nil {
					t.Fatalf("apply the bench objects: %v", err)
				}
				// Each route's IngressClass is one a Kong release installed.
				for _, o := range plan.AllObjects() {
					if ing, ok := o.(*networkingv1.Ingress); ok {
						var class networkingv1.IngressClass
						if err := h.sim.Client.Get(t.Context(), client.ObjectKey{Name: *ing.Spec.IngressClassName}, &class); err != nil {
							t.Errorf("route %s/%s: IngressClass %s: %v", ing.Namespace, ing.Name, *ing.Spec.IngressClassName, err)
						}
					}
				}
				h.assertBenchPaths(t, kc, plan)
			})
			t.Run("data plane", func(t *testing.T) {
				t.Skip("the simulated cluster has no data plane: kwok runs no container, so no traffic, Envoy stats or mTLS evidence can be probed")
			})
			if err := tc.down(t.Context(), env); err != nil {
				t.Fatalf("down: %v", err)
			}
			t.Run("down", func(t *testing.T) {
				h.assertNothingOfRun(t, env.RunID, tc.namespace)
				h.assertUserObjects(t, before)
			})
		})
	}
}

// Ctrl-C during up: the context is cancelled while the mesh's Helm release
// waits for its workloads, or once the plain Kong's namespace is created
// (its step is the last); up returns the cancellation and has removed all it
// had created.
func TestSimUpCancelled(t *testing.T) {
	for _, at := range []struct {
		name string
		key  client.ObjectKey
		obj  client.Object
	}{
		{"mesh release waiting", client.ObjectKey{Namespace: addons.KumaNamespace, Name: addons.KumaCPName}, &appsv1.Deployment{}},
		{"plain Kong step", client.ObjectKey{Name: cluster.KongPlainNamespace}, &corev1.Namespace{}},
	} {
		t.Run(at.name, func(t *testing.T) {
			h := newSimHarness(t, map[string]string{simMeshes[0].injector: simMeshes[0].sidecar})
			before := h.userObjects(t)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			opts := h.options(t, cluster.MeshKuma)
			opts.KongPlain = true
			go func() {
				for ctx.Err() == nil {
					if h.sim.Client.Get(ctx, at.key, at.obj) == nil {
						t.Log("cancelling up: up has created " + strings.TrimPrefix(at.key.String(), "/"))
						cancel()
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			}()
			env, err := stack.Up(ctx, opts)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("up after cancel: err %v, want context.Canceled", err)
			}
			h.assertNothingOfRun(t, env.RunID, addons.KumaNamespace)
			h.assertUserObjects(t, before)
			if _, err := os.Stat(filepath.Join(env.RunDir, stack.StateFile)); !os.IsNotExist(err) {
				t.Errorf("%s left behind after a cancelled up (stat: %v)", stack.StateFile, err)
			}
		})
	}
}

type simHarness struct {
	sim        *kubetest.Sim
	webhook    *kubetest.SimWebhook
	charts     string
	adminCalls atomic.Int64
}

func newSimHarness(t *testing.T, injectors map[string]string) *simHarness {
	t.Helper()
	charts := os.Getenv(chartsDirEnv)
	if charts == "" {
		t.Skip(chartsDirEnv + " is unset: point it at the pinned upstream charts to install them on the simulated cluster")
	}
	h := &simHarness{charts: charts}
	// Kong's admin API stand-in: the gateway pod has no process, so kwok
	// forwards the pod's admin port here; up checks /status through the
	// API server's port-forward, as it would against Kong.
	admin := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/status" {
			h.adminCalls.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	admin.StartTLS()
	t.Cleanup(admin.Close)
	h.sim = kubetest.StartSim(t, kubetest.SimOptions{Nodes: 3, PortForwards: append([]kubetest.SimPortForward{{
		Namespace: cluster.KongNamespace, Ports: []int32{cluster.KongAdminPort}, Target: admin.Listener.Addr().String(),
	}}, proxyMetricsForwards(t)...)})
	h.webhook = h.sim.StartWebhook(t, injectors)
	h.createUserObjects(t)
	go h.actAsKumaCP(t.Context())
	return h
}

func (h *simHarness) options(t *testing.T, mesh string) stack.Options {
	t.Helper()
	m, err := addons.DefaultMatrix()
	if err != nil {
		t.Fatal(err)
	}
	for key, file := range simChartFiles {
		c := m.Charts[key]
		c.Path = filepath.Join(h.charts, file)
		m.Charts[key] = c
	}
	return stack.Options{
		Mesh: mesh, Provider: cluster.ProviderExisting, Kubeconfig: h.sim.Kubeconfig,
		Matrix: &m, PostRenderer: h.webhook.PostRenderer(), RunDir: t.TempDir(),
		Timeout: 5 * time.Minute, Log: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	}
}

// actAsKumaCP creates the default Mesh once kuma-cp is available, as
// kuma-cp does when it starts (no process runs on the simulated cluster).
func (h *simHarness) actAsKumaCP(ctx context.Context) {
	for ctx.Err() == nil {
		var d appsv1.Deployment
		err := h.sim.Client.Get(ctx, client.ObjectKey{Namespace: addons.KumaNamespace, Name: addons.KumaCPName}, &d)
		if err == nil && d.Status.AvailableReplicas > 0 {
			mesh := &unstructured.Unstructured{}
			mesh.SetGroupVersionKind(addons.KumaMeshGVK)
			mesh.SetName(addons.DefaultMesh)
			if err := h.sim.Client.Create(ctx, mesh); err == nil || apierrors.IsAlreadyExists(err) {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// userObjects that exist before up: a namespace with a ConfigMap and a
// running Deployment, and a ConfigMap in kube-system.
const userNamespace = "team-a"

func (h *simHarness) createUserObjects(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	labels := map[string]string{"app": "user-app"}
	replicas := int32(1)
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: userNamespace, Labels: map[string]string{"team": "a"}}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "user-config", Namespace: userNamespace}, Data: map[string]string{"k": "v"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "user-config", Namespace: "kube-system"}, Data: map[string]string{"k": "v"}},
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "user-app", Namespace: userNamespace},
			Spec: appsv1.DeploymentSpec{
				Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.invalid/app:1"}}},
				},
			},
		},
	} {
		if err := h.sim.Client.Create(ctx, o); err != nil {
			t.Fatalf("creating user object %s: %v", o.GetName(), err)
		}
	}
}

// userObjects lists what is on the cluster that a run must leave as it was:
// every namespace, ConfigMap, Deployment and CRD.
func (h *simHarness) userObjects(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, l := range []client.ObjectList{&corev1.NamespaceList{}, &corev1.ConfigMapList{}, &appsv1.DeploymentList{}, &apiextensionsv1.CustomResourceDefinitionList{}} {
		if err := h.sim.Client.List(t.Context(), l); err != nil {
			t.Fatal(err)
		}
		out = append(out, names(t, l)...)
	}
	slices.Sort(out)
	return out
}

func (h *simHarness) assertUserObjects(t *testing.T, before []string) {
	t.Helper()
	after := h.userObjects(t)
	for _, o := range before {
		if !slices.Contains(after, o) {
			t.Errorf("%s existed before up and is gone", o)
		}
	}
	// A CRD the run created must be gone, or deleted and terminating (the API
	// server may take minutes to finalize one created seconds before): a CRD
	// left makes the next up see the mesh as installed and refuse the cluster.
	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := h.sim.Client.List(t.Context(), &crds); err != nil {
		t.Fatal(err)
	}
	for _, crd := range crds.Items {
		if crd.DeletionTimestamp == nil && !slices.Contains(before, "*v1.CustomResourceDefinition "+crd.Name) {
			t.Errorf("CRD %s was created by the run and is left", crd.Name)
		}
	}
}

func (h *simHarness) assertNamespaceLabel(t *testing.T, ns string, want map[string]string) {
	t.Helper()
	var n corev1.Namespace
	if err := h.sim.Client.Get(t.Context(), client.ObjectKey{Name: ns}, &n); err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if n.Labels[k] != v {
			t.Errorf("namespace %s label %s=%q, want %q", ns, k, n.Labels[k], v)
		}
	}
}

// assertInjected: the API server sent Kong's gateway pods to the mesh's
// injector (the chart's selectors matched Kong's namespace label), and they
// run with the sidecar.
func (h *simHarness) assertInjected(t *testing.T, sidecar string) {
	t.Helper()
	for _, p := range h.kongGatewayPods(t) {
		if !slices.Contains(addons.ContainerNames(&p), sidecar) || p.Status.Phase != corev1.PodRunning {
			t.Errorf("Kong gateway pod %s: containers %v phase %s, want %s and Running", p.Name, addons.ContainerNames(&p), p.Status.Phase, sidecar)
		}
	}
	var dry, real bool
	for _, c := range h.webhook.Calls() {
		if c.Kind == "Pod" && c.Namespace == cluster.KongNamespace && c.Patched {
			dry, real = dry || c.DryRun, real || !c.DryRun
		}
	}
	if !dry || !real {
		t.Errorf("injector calls for pods in %s: dry-run probe %v, Kong's pods %v; want both", cluster.KongNamespace, dry, real)
	}
}

// assertPlainKong: the plain Kong's pods run without a sidecar, no injector
// webhook of the mesh was asked about them (the charts' selectors leave its
// namespace out), its IngressClass is there, and its release and namespace
// are recorded for down.
func (h *simHarness) assertPlainKong(t *testing.T, env *cluster.Env, injectors map[string]string) {
	t.Helper()
	var pods corev1.PodList
	if err := h.sim.Client.List(t.Context(), &pods, client.InNamespace(cluster.KongPlainNamespace),
		client.MatchingLabels{cluster.KongGatewayLabel: cluster.KongPlainRelease}); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) < 2 {
		t.Errorf("%d plain Kong pods, want its gateway and controller", len(pods.Items))
	}
	for _, p := range pods.Items {
		names := addons.ContainerNames(&p)
		if slices.Contains(names, addons.KumaSidecar) || slices.Contains(names, addons.IstioSidecar) || p.Status.Phase != corev1.PodRunning {
			t.Errorf("plain Kong pod %s: containers %v phase %s, want no sidecar and Running", p.Name, names, p.Status.Phase)
		}
	}
	for _, c := range h.webhook.Calls() {
		for suffix := range injectors {
			if c.Kind == "Pod" && c.Namespace == cluster.KongPlainNamespace && strings.HasSuffix(c.Webhook, suffix) {
				t.Errorf("injector webhook %s was asked about plain Kong pod %s", c.Webhook, c.Name)
			}
		}
	}
	var class networkingv1.IngressClass
	if err := h.sim.Client.Get(t.Context(), client.ObjectKey{Name: cluster.KongPlainClass}, &class); err != nil {
		t.Errorf("IngressClass %s: %v", cluster.KongPlainClass, err)
	}
	for _, want := range []cluster.Created{
		{Kind: "Namespace", Name: cluster.KongPlainNamespace},
		{Kind: "HelmRelease", Namespace: cluster.KongPlainNamespace, Name: cluster.KongPlainRelease},
	} {
		if !slices.Contains(env.CreatedObjects(), want) {
			t.Errorf("%v not recorded for down (recorded %v)", want, env.CreatedObjects())
		}
	}
}

func (h *simHarness) kongGatewayPods(t *testing.T) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := h.sim.Client.List(t.Context(), &pods, client.InNamespace(cluster.KongNamespace),
		client.MatchingLabels{"app.kubernetes.io/instance": cluster.KongRelease, "app.kubernetes.io/name": "gateway"}); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) == 0 {
		t.Fatal("no Kong gateway pods")
	}
	return pods.Items
}

// assertKongWithoutSidecar: in ambient mode Kong's pods run as they are,
// ztunnel carries their traffic.
func (h *simHarness) assertKongWithoutSidecar(t *testing.T) {
	t.Helper()
	for _, p := range h.kongGatewayPods(t) {
		if slices.Contains(addons.ContainerNames(&p), addons.IstioSidecar) || p.Status.Phase != corev1.PodRunning {
			t.Errorf("Kong gateway pod %s: containers %v phase %s, want no %s and Running", p.Name, addons.ContainerNames(&p), p.Status.Phase, addons.IstioSidecar)
		}
	}
}

func (h *simHarness) helmReleases(t *testing.T) []string {
	t.Helper()
	var secrets corev1.SecretList
	if err := h.sim.Client.List(t.Context(), &secrets, client.MatchingLabels{"owner": "helm"}); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range secrets.Items {
		out = append(out, s.Namespace+"/"+s.Name)
	}
	return out
}

// assertNothingOfRun: no Helm release, no namespace the run created (they
// are gone once the namespace controller has finalized them), and no object
// carrying the run's label in the namespaces meshgate used.
func (h *simHarness) assertNothingOfRun(t *testing.T, runID, meshNamespace string) {
	t.Helper()
	ctx := t.Context()
	if rels := h.helmReleases(t); len(rels) > 0 {
		t.Errorf("Helm releases left: %v", rels)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for _, ns := range []string{cluster.KongNamespace, cluster.KongPlainNamespace, meshNamespace} {
		for {
			var n corev1.Namespace
			err := h.sim.Client.Get(ctx, client.ObjectKey{Name: ns}, &n)
			if apierrors.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("namespace %s left (phase %s, err %v)", ns, n.Status.Phase, err)
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	var left []string
	for _, l := range []client.ObjectList{
		&corev1.NamespaceList{}, &corev1.ConfigMapList{}, &corev1.ServiceAccountList{}, &appsv1.DeploymentList{},
		&rbacv1.ClusterRoleList{}, &rbacv1.ClusterRoleBindingList{}, &networkingv1.IngressClassList{},
		&admissionregistrationv1.MutatingWebhookConfigurationList{}, &admissionregistrationv1.ValidatingWebhookConfigurationList{},
	} {
		if err := h.sim.Client.List(ctx, l, client.MatchingLabels{fixtures.LabelRun: runID}); err != nil {
			t.Fatal(err)
		}
		left = append(left, names(t, l)...)
	}
	if len(left) > 0 {
		t.Errorf("objects labelled %s=%s left: %s", fixtures.LabelRun, runID, strings.Join(left, ", "))
	}
}

func names(t *testing.T, l client.ObjectList) []string {
	t.Helper()
	items, err := meta.ExtractList(l)
	if err != nil {
		t.Fatal(err)
	}
	kind := strings.TrimSuffix(fmt.Sprintf("%T", l), "List")
	var out []string
	for _, o := range items {
		m, err := meta.Accessor(o)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, kind+" "+strings.TrimPrefix(m.GetNamespace()+"/"+m.GetName(), "/"))
	}
	return out
}

// testWriter prints up's and down's log lines (each step) in the test output.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
