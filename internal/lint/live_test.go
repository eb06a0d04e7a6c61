package lint

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshgate/meshgate/internal/kubetest"
)

var shared = kubetest.NewShared(kubetest.GatewayAPI(), kubetest.Istio(), kubetest.Kuma(), kubetest.Kong())

func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }

// findingKey is a finding without its file location: what live mode must
// reproduce exactly.
func findingKey(f Finding) string {
	var rel []string
	for _, r := range f.Related {
		rel = append(rel, r.String())
	}
	return fmt.Sprintf("%s %s %s | %s | related: %s", f.RuleID, f.Severity, f.Object, f.Message, strings.Join(rel, ", "))
}

func keys(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, findingKey(f))
	}
	sort.Strings(out)
	return out
}

// TestLiveMatchesFileMode applies testdata/live/topology.yaml to a real
// kube-apiserver (envtest, with the Gateway API, Istio, Kuma and Kong CRDs)
// and checks that linting the cluster gives the same findings as linting the
// file.
func TestLiveMatchesFileMode(t *testing.T) {
	env := shared.Env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	objs, err := LoadPaths([]string{filepath.Join("testdata", "live", "topology.yaml")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fileFindings := Run(NewModel(objs))
	rules := map[string]bool{}
	for _, f := range fileFindings {
		rules[f.RuleID] = true
	}
	for _, r := range Rules() {
		if rules[r.ID] == r.FileOnly {
			t.Fatalf("the live topology must trigger every rule live mode can see, and no file-only one: %s (file-only %v) triggered %v", r.ID, r.FileOnly, rules[r.ID])
		}
	}

	// Namespaces first, then everything else, in file order.
	sort.SliceStable(objs, func(i, j int) bool { return objs[i].Kind == "Namespace" && objs[j].Kind != "Namespace" })
	for _, o := range NewModel(objs).all() {
		u := &unstructured.Unstructured{Object: toUnstructured(o.Content)}
		if err := env.Client.Create(ctx, u); err != nil {
			t.Fatalf("create %s (%s): %v", o.Ref(), o.Ref().Where(), err)
		}
	}

	liveObjs, err := LoadCluster(ctx, env.Client, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range liveObjs {
		if o.Source.File != "" {
			t.Fatalf("live object %s has a file location", o.Ref())
		}
	}
	liveFindings := Run(NewModel(liveObjs))
	want, got := keys(fileFindings), keys(liveFindings)
	if strings.Join(want, "\n") != strings.Join(got, "\n") {
		t.Fatalf("live findings differ from file findings\nfile (%d):\n%s\n\nlive (%d):\n%s",
			len(want), strings.Join(want, "\n"), len(got), strings.Join(got, "\n"))
	}
	for _, f := range liveFindings {
		if f.Object.Where() != f.Object.String() {
			t.Errorf("live finding located at %q, want the object reference", f.Object.Where())
		}
	}

	// -n narrows namespaced objects but keeps mesh-wide policy.
	nsObjs, err := LoadCluster(ctx, env.Client, "kshop", nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range Run(NewModel(nsObjs)) {
		ids = append(ids, f.RuleID+" "+f.Object.String())
	}
	if strings.Join(ids, ";") != "MG001 Ingress/kshop/echo;MG008 Mesh/other" {
		t.Fatalf("lint -n kshop: got %v, want the Pod-IP finding of kshop and the mesh-wide MG008", ids)
	}
}

// all lists the model's objects with kinds grouped, namespaces first.
func (m *Model) all() []*Object {
	var out []*Object
	kinds := make([]string, 0, len(m.byKind))
	for k := range m.byKind {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if (kinds[i] == kNamespace) != (kinds[j] == kNamespace) {
			return kinds[i] == kNamespace
		}
		return kinds[i] < kinds[j]
	})
	for _, k := range kinds {
		out = append(out, m.byKind[k]...)
	}
	return out
}

// toUnstructured converts JSON-shaped content to what unstructured accepts
// (int64 for whole numbers).
func toUnstructured(v map[string]any) map[string]any {
	out := make(map[string]any, len(v))
	for k, val := range v {
		out[k] = toUnstructuredValue(val)
	}
	return out
}

func toUnstructuredValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return toUnstructured(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = toUnstructuredValue(e)
		}
		return out
	case float64:
		if t == float64(int64(t)) {
			return int64(t)
		}
	}
	return v
}
