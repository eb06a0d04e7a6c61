package scenarios

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/fixtures/kuma"
	"github.com/meshgate/meshgate/internal/kubetest"
)

// TestKubeApplierOnAPIServer: apply is idempotent and labels with the run;
// a wait that cannot succeed (no Kong controller on envtest) ends at its
// timeout naming the object and what it waited for; cleanup leaves the
// shared Mesh alone.
func TestKubeApplierOnAPIServer(t *testing.T) {
	env := kubetest.Start(t, kubetest.GatewayAPI(), kubetest.Kuma(), kubetest.Kong())
	ctx := t.Context()
	a := &KubeApplier{Client: env.Client, RunID: "run-1", Wait: 5 * time.Second, Poll: 200 * time.Millisecond}
	trap, err := kuma.Variant(kuma.Defaults(), kuma.VariantTrap)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := a.Apply(ctx, trap); err != nil {
			t.Fatalf("apply %d: %v", i+1, err)
		}
	}
	var svc corev1.Service
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: kuma.TrapNamespace, Name: kuma.Backend}, &svc); err != nil {
		t.Fatal(err)
	}
	if svc.Labels[fixtures.LabelRun] != "run-1" {
		t.Errorf("labels %v lack the run", svc.Labels)
	}

	mesh := fixtures.Set{Name: "mesh", Objects: []client.Object{kuma.MeshObject(kuma.Strict)}}
	if err := a.Apply(ctx, mesh); err != nil {
		t.Fatal(err)
	}
	full, err := kuma.Variant(kuma.Defaults(), kuma.VariantPodIP502)
	if err != nil {
		t.Fatal(err)
	}
	var gw fixtures.Set
	for _, o := range full.Objects {
		if k := o.GetObjectKind().GroupVersionKind().Kind; k == "Namespace" || k == "Gateway" {
			gw.Objects = append(gw.Objects, o)
		}
	}
	gw.Name = "gateway only"
	err = a.Apply(ctx, gw)
	if err == nil || !strings.Contains(err.Error(), "Gateway kong-air-production/kong-air-gateway not ready") || !strings.Contains(err.Error(), "Accepted=True") {
		t.Errorf("a Gateway no controller accepts: err = %v", err)
	}

	if err := a.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: kuma.TrapNamespace, Name: kuma.Backend}, &svc); err == nil && svc.DeletionTimestamp == nil {
		t.Error("cleanup left the Service")
	}
	m := kuma.MeshObject(kuma.Strict)
	if err := env.Client.Get(ctx, client.ObjectKey{Name: kuma.MeshName}, m); err != nil {
		t.Errorf("cleanup removed the shared Mesh: %v", err)
	}
}
