package scenarios

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/fixtures"
)

// FieldManager is meshgate's server-side apply field manager.
const FieldManager = "meshgate"

// KubeApplier applies fixture sets with server-side apply, labels every
// object with the run, and waits for what a set needs before traffic can
// mean anything: Deployments available at their latest generation, Pods
// ready, Gateways and HTTPRoutes accepted by their controller at their
// latest generation.
type KubeApplier struct {
	Client client.Client
	RunID  string
	Wait   time.Duration // per set
	Poll   time.Duration
	Log    *slog.Logger

	mu      sync.Mutex
	applied []*unstructured.Unstructured
}

// Apply implements Applier.
func (a *KubeApplier) Apply(ctx context.Context, set fixtures.Set) error {
	var objs []*unstructured.Unstructured
	for _, o := range set.Objects {
		u, err := toUnstructured(o)
		if err != nil {
			return fmt.Errorf("%s: %w", set.Name, err)
		}
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[fixtures.LabelManagedBy] = fixtures.ManagedBy
		if a.RunID != "" && !shared[u.GetKind()] {
			labels[fixtures.LabelRun] = a.RunID
		}
		u.SetLabels(labels)
		if err := a.Client.Patch(ctx, u, client.Apply, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("server-side apply of %s %s in %s: %w", u.GetKind(), key(u), set.Name, err)
		}
		a.remember(u)
		objs = append(objs, u)
	}
	ctx, cancel := context.WithTimeout(ctx, a.Wait)
	defer cancel()
	for _, u := range objs {
		if err := a.waitReady(ctx, u); err != nil {
			return fmt.Errorf("%s: %w", set.Name, err)
		}
	}
	return nil
}

func toUnstructured(o client.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, fmt.Errorf("%T %s: %w", o, o.GetName(), err)
	}
	u := &unstructured.Unstructured{Object: m}
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	if u.GetKind() == "" {
		return nil, fmt.Errorf("%T %s has no apiVersion/kind; fixtures must set TypeMeta", o, o.GetName())
	}
	return u, nil
}

func key(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetName()
	}
	return u.GetNamespace() + "/" + u.GetName()
}

func (a *KubeApplier) remember(u *unstructured.Unstructured) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, o := range a.applied {
		if o.GroupVersionKind() == u.GroupVersionKind() && key(o) == key(u) {
			return
		}
	}
	a.applied = append(a.applied, u.DeepCopy())
}

// readiness returns "" when ready, else what is still missing.
func readiness(u *unstructured.Unstructured) string {
	gen := u.GetGeneration()
	switch u.GetKind() {
	case "Deployment":
		want, _, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
		obs, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
		avail, _, _ := unstructured.NestedInt64(u.Object, "status", "availableReplicas")
		upd, _, _ := unstructured.NestedInt64(u.Object, "status", "updatedReplicas")
		if obs < gen || avail != want || upd != want {
			return fmt.Sprintf("observedGeneration %d/%d, updated %d, available %d of %d replicas", obs, gen, upd, avail, want)
		}
	case "Pod":
		if !conditionTrue(u, []string{"status", "conditions"}, "Ready", -1) {
			return "pod not Ready"
		}
	case "Gateway":
		if !conditionTrue(u, []string{"status", "conditions"}, "Accepted", gen) {
			return fmt.Sprintf("no Accepted=True at generation %d (is Kong's GatewayClass installed?)", gen)
		}
	case "HTTPRoute":
		parents, _, _ := unstructured.NestedSlice(u.Object, "status", "parents")
		for _, p := range parents {
			pm, _ := p.(map[string]any)
			if conditionTrue(&unstructured.Unstructured{Object: pm}, []string{"conditions"}, "Accepted", gen) {
				return ""
			}
		}
		return fmt.Sprintf("no parent reports Accepted=True at generation %d", gen)
	}
	return ""
}

func conditionTrue(u *unstructured.Unstructured, path []string, typ string, gen int64) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, path...)
	for _, c := range conds {
		cm, _ := c.(map[string]any)
		if cm["type"] != typ || cm["status"] != "True" {
			continue
		}
		if gen < 0 {
			return true
		}
		og, _ := cm["observedGeneration"].(int64)
		return og >= gen
	}
	return false
}

func (a *KubeApplier) waitReady(ctx context.Context, want *unstructured.Unstructured) error {
	start := time.Now()
	missing := "not read yet"
	for {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(want.GroupVersionKind())
		err := a.Client.Get(ctx, client.ObjectKeyFromObject(want), got)
		switch {
		case err != nil && ctx.Err() != nil:
			// The deadline hit mid-read: report what was last missing.
		case err != nil:
			missing = err.Error()
		default:
			missing = readiness(got)
		}
		if missing == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s not ready after %s: %s (look at `kubectl describe` and the diagnostics folder)", want.GetKind(), key(want), time.Since(start).Round(time.Second), missing)
		case <-time.After(a.Poll):
			if a.Log != nil {
				a.Log.Debug("waiting", "kind", want.GetKind(), "object", key(want), "missing", missing, "elapsed", time.Since(start).Round(time.Second))
			}
		}
	}
}

// shared kinds are cluster-wide objects meshgate patches but does not own:
// Kuma's control plane creates Mesh "default", and Kong's GatewayClass serves
// every Gateway. They get no run label, so cleanup by run leaves them.
var shared = map[string]bool{"Mesh": true, "GatewayClass": true}

// Cleanup deletes what Apply created, last first, except the shared kinds.
func (a *KubeApplier) Cleanup(ctx context.Context) error {
	a.mu.Lock()
	objs := a.applied
	a.applied = nil
	a.mu.Unlock()
	var errs []error
	for i := len(objs) - 1; i >= 0; i-- {
		o := objs[i]
		if shared[o.GetKind()] {
			continue
		}
		if err := a.Client.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting %s %s: %w", o.GetKind(), key(o), err))
		}
	}
	return errors.Join(errs...)
}
