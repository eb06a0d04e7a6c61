package kubetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/internal/kube"
)

// ApplySets applies every set on env, each in its own subtest named after
// the set, the way a run does (kube.Apply: server-side apply, strict field
// validation, run labels). Namespaces a set uses but does not contain are
// created first, unlabelled, as the topology that owns them would. A set
// the API server refuses fails its subtest with the server's error, which
// names the object and the field.
//
// envtest runs no controllers: "accepted" means the API server and the CRD
// schemas (with their CEL rules) accepted every object, not that Kong or a
// mesh has acted on it.
func ApplySets(t *testing.T, env *Env, sets []fixtures.Set) {
	t.Helper()
	if len(sets) == 0 {
		t.Fatal("no sets to apply")
	}
	seen := map[string]bool{}
	for _, set := range sets {
		if set.Name == "" || seen[set.Name] {
			t.Errorf("set name %q is empty or used twice: give each variant its own name", set.Name)
		}
		seen[set.Name] = true
		t.Run(set.Name, func(t *testing.T) {
			if len(set.Objects) == 0 {
				t.Fatal("set has no objects")
			}
			ctx := t.Context()
			if err := ensureNamespaces(ctx, env.Client, set.Objects); err != nil {
				t.Fatal(err)
			}
			c, err := kube.New(env.Config, "envtest", nil)
			if err != nil {
				t.Fatal(err)
			}
			objs := fixtures.DeepCopy(set.Objects)
			if err := c.Apply(ctx, objs...); err != nil {
				t.Fatalf("set %s refused: %v", set.Name, err)
			}
			for _, o := range objs {
				if o.GetUID() == "" || o.GetLabels()[fixtures.LabelRun] != "envtest" {
					t.Errorf("%s/%s: no uid or run label after apply: the server's answer was not read back", o.GetNamespace(), o.GetName())
				}
			}
		})
	}
}

func ensureNamespaces(ctx context.Context, c client.Client, objs []client.Object) error {
	var own, used []string
	for _, o := range objs {
		if _, ok := o.(*corev1.Namespace); ok || o.GetObjectKind().GroupVersionKind().Kind == "Namespace" {
			own = append(own, o.GetName())
		}
		if ns := o.GetNamespace(); ns != "" && !slices.Contains(used, ns) {
			used = append(used, ns)
		}
	}
	for _, ns := range used {
		if slices.Contains(own, ns) {
			continue
		}
		err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating namespace %s: %w", ns, err)
		}
	}
	return nil
}
