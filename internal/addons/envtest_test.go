package addons

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/kubetest"
)

// startAPIServer runs a real kube-apiserver and etcd (envtest), with Kuma's
// CRDs when MESHGATE_CHARTS_DIR or MESHGATE_CRDS_DIR provides them (else the
// reason they are missing).
func startAPIServer(t *testing.T) (*rest.Config, string) {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: export KUBEBUILDER_ASSETS=$(hack/envtest-assets.sh) (make test does)")
	}
	te := &envtest.Environment{}
	kuma, noKuma, err := kubetest.Kuma().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	te.CRDDirectoryPaths = kuma
	cfg, err := te.Start()
	if err != nil {
		t.Fatalf("envtest: %v", err)
	}
	t.Cleanup(func() { _ = te.Stop() })
	return cfg, noKuma
}

func TestInstallOnAPIServer(t *testing.T) {
	cfg, noKuma := startAPIServer(t)
	ctx := context.Background()
	env := &cluster.Env{REST: cfg, RunID: "run-envtest", Provider: cluster.ProviderExisting, Mesh: cluster.MeshKuma}
	c, err := Client(env)
	if err != nil {
		t.Fatal(err)
	}
	short := Timeouts{CRDs: 30 * time.Second}

	t.Run("gateway API CRDs established", func(t *testing.T) {
		if err := cluster.RunSteps(ctx, env, InstallGatewayAPICRDs(short)); err != nil {
			t.Fatal(err)
		}
		gw := &unstructured.UnstructuredList{}
		gw.SetAPIVersion("gateway.networking.k8s.io/v1")
		gw.SetKind("GatewayClassList")
		if err := c.List(ctx, gw); err != nil {
			t.Errorf("GatewayClass not served after the step: %v", err)
		}
		crds, err := GatewayAPICRDs()
		if err != nil {
			t.Fatal(err)
		}
		if n := len(recordsOf(env, "CustomResourceDefinition")); n != len(crds) {
			t.Errorf("recorded %d CRDs as created by the run, want the %d it installed", n, len(crds))
		}
		// On a rerun they were there before: nothing more to record.
		if err := cluster.RunSteps(ctx, env, InstallGatewayAPICRDs(short)); err != nil {
			t.Fatal(err)
		}
		if n := len(recordsOf(env, "CustomResourceDefinition")); n != len(crds) {
			t.Errorf("rerun recorded pre-existing CRDs: %d records", n)
		}
	})

	t.Run("Kong namespace labelled for injection and recorded", func(t *testing.T) {
		if err := cluster.RunSteps(ctx, env, CreateKongNamespace(cluster.MeshKuma)); err != nil {
			t.Fatal(err)
		}
		var ns corev1.Namespace
		if err := c.Get(ctx, client.ObjectKey{Name: cluster.KongNamespace}, &ns); err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]string{"kuma.io/sidecar-injection": "enabled", fixtures.LabelRun: "run-envtest", fixtures.LabelManagedBy: fixtures.ManagedBy} {
			if ns.Labels[k] != v {
				t.Errorf("namespace label %s = %q, want %q", k, ns.Labels[k], v)
			}
		}
		got := recordsOf(env, "Namespace")
		if len(got) != 1 || got[0] != (cluster.Created{Kind: "Namespace", Name: cluster.KongNamespace}) {
			t.Errorf("recorded %v", got)
		}
		// Applying again (a rerun) must not record it twice.
		if err := cluster.RunSteps(ctx, env, CreateKongNamespace(cluster.MeshKuma)); err != nil {
			t.Fatal(err)
		}
		if n := len(recordsOf(env, "Namespace")); n != 1 {
			t.Errorf("rerun recorded the pre-existing namespace: %d records", n)
		}
	})

	t.Run("rendered Kong values create on the API server and are not ready without controllers", func(t *testing.T) {
		v, err := KongValues(testMatrix(t), Options{Mesh: cluster.MeshKuma, Kind: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range renderMini(t, v["gateway"].(map[string]any)) {
			if err := c.Patch(ctx, o, client.Apply, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
				t.Fatalf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
			}
		}
		err = Wait(ctx, nil, "Kong", 3*time.Second, DeploymentAvailable(c, cluster.KongNamespace, "kong-mini"))
		if err == nil || !strings.Contains(err.Error(), "deployment kong/kong-mini available") || !strings.Contains(err.Error(), "available 0") {
			t.Errorf("no controller runs here, so the wait must fail naming the Deployment: %v", err)
		}
	})

	t.Run("injection dry run without a webhook has no sidecar", func(t *testing.T) {
		chk := SidecarInjected(c, cluster.KongNamespace, KumaSidecar, map[string]string{"kuma.io/mesh": DefaultMesh})
		ok, seen, err := chk.Ready(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ok || !strings.Contains(seen, "[probe]") {
			t.Errorf("ready=%v seen=%q; without Kuma's webhook the pod comes back as sent", ok, seen)
		}
		var p corev1.Pod
		if err := c.Get(ctx, client.ObjectKey{Namespace: cluster.KongNamespace, Name: "meshgate-injection-probe"}, &p); !apierrors.IsNotFound(err) {
			t.Errorf("the dry run created a pod: %v", err)
		}
	})

	t.Run("Kuma mesh and installed-mesh detection", func(t *testing.T) {
		if noKuma != "" {
			t.Skip(noKuma)
		}
		found, err := InstalledMeshes(ctx, c)
		if err != nil || len(found) != 1 || found[0] != cluster.MeshKuma {
			t.Errorf("InstalledMeshes = %v, %v; want [kuma]", found, err)
		}
		chk := KumaMeshPresent(c, DefaultMesh)
		if ok, _, err := chk.Ready(ctx); ok || err != nil {
			t.Fatalf("Mesh present before creation: %v %v", ok, err)
		}
		mesh := &unstructured.Unstructured{}
		mesh.SetGroupVersionKind(KumaMeshGVK)
		mesh.SetName(DefaultMesh)
		if err := c.Create(ctx, mesh); err != nil {
			t.Fatal(err)
		}
		if ok, seen, err := chk.Ready(ctx); !ok || err != nil {
			t.Errorf("Mesh not seen after creation: %q %v", seen, err)
		}
	})

	t.Run("teardown deletes only what the run created", func(t *testing.T) {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metaName("users-own")}); err != nil {
			t.Fatal(err)
		}
		if err := env.Teardown(ctx); err != nil {
			t.Fatal(err)
		}
		var ns corev1.Namespace
		err := c.Get(ctx, client.ObjectKey{Name: cluster.KongNamespace}, &ns)
		if err == nil && ns.DeletionTimestamp == nil {
			t.Error("Kong namespace survived teardown")
		}
		if err := c.Get(ctx, client.ObjectKey{Name: "users-own"}, &ns); err != nil || ns.DeletionTimestamp != nil {
			t.Errorf("teardown touched a namespace it did not create: %v", err)
		}
	})
}

func metaName(n string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: n} }

func recordsOf(env *cluster.Env, kind string) []cluster.Created {
	var out []cluster.Created
	for _, c := range env.CreatedObjects() {
		if c.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}
