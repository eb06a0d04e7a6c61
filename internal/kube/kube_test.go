package kube_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/internal/kube"
	"github.com/meshgate/meshgate/internal/kubetest"
)

var shared = kubetest.NewShared(kubetest.GatewayAPI())

func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }

func newClient(t *testing.T, env *kubetest.Env, runID string) *kube.Client {
	t.Helper()
	c, err := kube.New(env.Config, runID, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	c.Timeouts.Poll = 50 * time.Millisecond
	return c
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func configMap(ns, name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string]string{"k": "v"}}
}

func deployment(ns, name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: fixtures.EchoImage}}},
			},
		},
	}
}

func service(ns, name string, port int32) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: port, TargetPort: intstr.FromInt32(8080)}},
		},
	}
}

func gateway(ns, name string) *gatewayv1.Gateway {
	return &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: "kong",
			Listeners:        []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}},
		},
	}
}

func objects(ns string) []client.Object {
	return []client.Object{gateway(ns, "gw"), deployment(ns, "app"), service(ns, "app", 8080), configMap(ns, "cfg")}
}

func TestApplyIsIdempotent(t *testing.T) {
	env := shared.Env(t)
	ns := env.Namespace(t, "idempotent")
	c := newClient(t, env, "run-1")
	ctx := t.Context()

	// Kinds whose CRD defaults status (Gateway) get one write after
	// creation; from then on an unchanged apply must not write at all.
	var rounds [3][]client.Object
	for i := range rounds {
		rounds[i] = objects(ns)
		if err := c.Apply(ctx, rounds[i]...); err != nil {
			t.Fatal(err)
		}
	}
	first, second, third := rounds[0], rounds[1], rounds[2]
	for i := range first {
		a, b, z := first[i], second[i], third[i]
		if b.GetResourceVersion() == "" || b.GetResourceVersion() != z.GetResourceVersion() {
			t.Errorf("%T %s: resourceVersion %q after the second apply, %q after the third: want equal and set", b, b.GetName(), b.GetResourceVersion(), z.GetResourceVersion())
		}
		if a.GetGeneration() != z.GetGeneration() {
			t.Errorf("%T %s: generation %d after the first apply, %d after the third: want no spec change", a, a.GetName(), a.GetGeneration(), z.GetGeneration())
		}
		got := z.GetLabels()
		if got[fixtures.LabelRun] != "run-1" || got[fixtures.LabelManagedBy] != fixtures.ManagedBy {
			t.Errorf("%T %s: labels %v, want %s=run-1 and %s=%s", z, z.GetName(), got, fixtures.LabelRun, fixtures.LabelManagedBy, fixtures.ManagedBy)
		}
		mf := z.GetManagedFields()
		if len(mf) == 0 || mf[0].Manager != kube.FieldManager || mf[0].Operation != metav1.ManagedFieldsOperationApply {
			t.Errorf("%T %s: managedFields %+v, want an Apply entry by %q", z, z.GetName(), mf, kube.FieldManager)
		}
	}

	// A real change is applied (the check above could not pass by ignoring input).
	changed := configMap(ns, "cfg")
	changed.Data["k"] = "w"
	if err := c.Apply(ctx, changed); err != nil {
		t.Fatal(err)
	}
	if changed.GetResourceVersion() == third[3].GetResourceVersion() || changed.Data["k"] != "w" {
		t.Errorf("changed ConfigMap: resourceVersion %s (was %s), data %v", changed.GetResourceVersion(), third[3].GetResourceVersion(), changed.Data)
	}
}

// Objects given in any order land in apply order: the namespace first.
func TestApplyOrdersObjects(t *testing.T) {
	env := shared.Env(t)
	ctx := t.Context()
	c := newClient(t, env, "run-order")
	ns := "order-" + strconv.FormatInt(time.Now().UnixNano(), 36) // created by Apply itself
	route := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "r"},
		Spec: gatewayv1.HTTPRouteSpec{CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gw"}}}}}
	objs := []client.Object{route, gateway(ns, "gw"), service(ns, "app", 8080), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}}
	if err := c.Apply(ctx, objs...); err != nil {
		t.Fatalf("applying a route, gateway, service and their namespace in reverse order: %v", err)
	}
	for _, o := range objs {
		if o.GetUID() == "" {
			t.Errorf("%T %s: not created", o, o.GetName())
		}
	}
}

func TestCleanupDeletesOnlyThisRun(t *testing.T) {
	env := shared.Env(t)
	ns := env.Namespace(t, "cleanup")
	ctx := t.Context()
	mine, other := newClient(t, env, "run-mine"), newClient(t, env, "run-other")

	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ns + "-reader"}} // cluster-scoped
	if err := mine.Apply(ctx, configMap(ns, "mine"), role); err != nil {
		t.Fatal(err)
	}
	if err := other.Apply(ctx, configMap(ns, "other-run")); err != nil {
		t.Fatal(err)
	}
	byHand := configMap(ns, "by-hand")
	if err := env.Client.Create(ctx, byHand); err != nil {
		t.Fatal(err)
	}
	if err := mine.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		obj  client.Object
		gone bool
	}{
		{configMap(ns, "mine"), true},
		{&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ns + "-reader"}}, true},
		{configMap(ns, "other-run"), false},
		{configMap(ns, "by-hand"), false},
	} {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(tc.obj), tc.obj)
		if gone := apierrors.IsNotFound(err); gone != tc.gone || (err != nil && !gone) {
			t.Errorf("%T %s after Cleanup: err=%v, want gone=%v", tc.obj, tc.obj.GetName(), err, tc.gone)
		}
	}
}

func TestCleanupWaitsUntilNotFound(t *testing.T) {
	env := shared.Env(t)
	ns := env.Namespace(t, "finalizer")
	ctx := t.Context()
	c := newClient(t, env, "run-final")

	cm := configMap(ns, "held")
	cm.Finalizers = []string{"meshgate.io/test-hold"}
	if err := c.Apply(ctx, cm); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Cleanup(ctx) }()

	// Cleanup must still be waiting while the finalizer holds the object.
	held := &corev1.ConfigMap{}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(cm), held); err != nil {
			t.Fatal(err)
		}
		if held.DeletionTimestamp != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if held.DeletionTimestamp == nil {
		t.Fatal("Cleanup did not delete the ConfigMap within 10s")
	}
	select {
	case err := <-done:
		t.Fatalf("Cleanup returned (%v) while the object still existed", err)
	case <-time.After(500 * time.Millisecond):
	}
	held.Finalizers = nil
	if err := env.Client.Update(ctx, held); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Cleanup did not return 30s after the finalizer was removed")
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(cm), &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("after Cleanup: %v, want NotFound", err)
	}
}

func TestCleanupFromAnotherClient(t *testing.T) {
	env := shared.Env(t)
	ns := env.Namespace(t, "track")
	ctx := t.Context()
	if err := newClient(t, env, "run-track").Apply(ctx, configMap(ns, "left")); err != nil {
		t.Fatal(err)
	}
	later := newClient(t, env, "run-track") // a new process knows only the run ID
	if err := later.Track(configMap(ns, "any")); err != nil {
		t.Fatal(err)
	}
	if err := later.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "left"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap left after Track+Cleanup: %v, want NotFound", err)
	}
}

// The wait succeeds once the status says so: the timeouts below are not the
// only way out.
func TestWaitSucceedsOnStatus(t *testing.T) {
	env := shared.Env(t)
	ns := env.Namespace(t, "ready")
	ctx := t.Context()
	c := newClient(t, env, "run-ready")
	g := gateway(ns, "gw")
	if err := c.Apply(ctx, g); err != nil {
		t.Fatal(err)
	}
	c.Timeouts.GatewayProgrammed = 20 * time.Second
	done := make(chan error, 1)
	go func() { done <- c.WaitGatewayProgrammed(ctx, ns, "gw") }()
	now := metav1.Now()
	g.Status.Conditions = []metav1.Condition{
		{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: g.Generation, LastTransitionTime: now},
		{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed", ObservedGeneration: g.Generation, LastTransitionTime: now},
	}
	if err := env.Client.Status().Update(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// envtest has no kubelet, so these cannot succeed here (the kind suites
// exercise them); they must reach the API server and fail naming the pod.
func TestPodAccessWithoutKubelet(t *testing.T) {
	env := shared.Env(t)
	ns := env.Namespace(t, "pods")
	ctx := t.Context()
	c := newClient(t, env, "run-pods")
	c.Timeouts.PortForward = 5 * time.Second
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nowhere"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: fixtures.EchoImage}}},
	}
	if err := c.Apply(ctx, pod); err != nil {
		t.Fatal(err)
	}
	_, _, execErr := c.Exec(ctx, ns, "nowhere", "app", []string{"true"})
	// The API server answers an empty log for a pod not yet scheduled.
	if b, err := c.Logs(ctx, ns, "nowhere", "app"); err != nil || len(b) != 0 {
		t.Errorf("logs of an unscheduled pod: %q, %v; want empty", b, err)
	}
	_, logsErr := c.Logs(ctx, ns, "absent", "app")
	_, _, pfErr := c.PortForward(ctx, ns, "nowhere", 8080)
	for _, tc := range []struct {
		what, pod string
		err       error
	}{{"exec", "nowhere", execErr}, {"port-forward", "nowhere", pfErr}, {"logs", "absent", logsErr}} {
		t.Logf("%s: %v", tc.what, tc.err)
		if tc.err == nil || !strings.Contains(tc.err.Error(), ns+"/"+tc.pod) {
			t.Errorf("%s on pod %s: %v, want an error naming %s/%s", tc.what, tc.pod, tc.err, ns, tc.pod)
		}
	}
}

func TestWaitThatCannotSucceedTimesOut(t *testing.T) {
	env := shared.Env(t)
	ns := env.Namespace(t, "wait")
	ctx := t.Context()
	c := newClient(t, env, "run-wait")
	// envtest runs no controllers: nothing ever makes these ready.
	if err := c.Apply(ctx, deployment(ns, "never"), gateway(ns, "never")); err != nil {
		t.Fatal(err)
	}
	c.Timeouts.DeploymentAvailable = time.Second
	c.Timeouts.GatewayProgrammed = time.Second
	c.Timeouts.PodReady = time.Second

	for _, tc := range []struct {
		name string
		wait func() error
		want []string
	}{
		{"deployment", func() error { return c.WaitDeploymentAvailable(ctx, ns, "never") },
			[]string{"Deployment " + ns + "/never available", "observedGeneration 0 < generation 1"}},
		{"gateway", func() error { return c.WaitGatewayProgrammed(ctx, ns, "never") },
			[]string{"Gateway " + ns + "/never", "Accepted"}},
		{"missing pod", func() error { return c.WaitPodReady(ctx, ns, "absent") },
			[]string{"Pod " + ns + "/absent ready", "not found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := tc.wait()
			if err == nil {
				t.Fatal("wait succeeded; want a timeout")
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if el := time.Since(start); el < time.Second || el > 10*time.Second {
				t.Errorf("wait took %s, want about its 1s limit", el)
			}
		})
	}
}

func TestApplyRejectsBrokenManifests(t *testing.T) {
	env := shared.Env(t)
	ns := env.Namespace(t, "broken")
	ctx := t.Context()
	c := newClient(t, env, "run-broken")

	badRoute := &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bad-route"},
		Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{{
			Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Value: ptr("no-leading-slash")}}},
		}}},
	}
	for _, tc := range []struct {
		name string
		obj  client.Object
		want []string
	}{
		{"service port out of range", service(ns, "bad-port", 70000),
			[]string{"Service " + ns + "/bad-port", "spec.ports[0].port"}},
		{"route path without slash", badRoute,
			[]string{"HTTPRoute " + ns + "/bad-route", "spec.rules[0].matches[0].path"}},
		{"namespaced without namespace", configMap("", "nowhere"),
			[]string{"ConfigMap nowhere", "metadata.namespace is empty"}},
		{"misspelt field", fixtures.Unstructured("v1", "Service", ns, "typo", map[string]any{
			"prots": []any{map[string]any{"port": int64(80)}}}),
			[]string{"Service " + ns + "/typo", ".spec.prots"}},
		{"unknown kind", fixtures.Unstructured("example.com/v1", "Nothing", ns, "x", nil),
			[]string{"Nothing " + ns + "/x", "install its CRD"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Apply(ctx, tc.obj)
			if err == nil {
				t.Fatal("applied; want rejected")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// The Kuma CRDs are applied through Apply itself (CRD first, then a policy in
// the same call), and a policy with an invalid enum is refused by the CRD's
// schema, naming the field. (Mesh's spec is schemaless in the CRD: only
// Kuma's webhook validates it, so it cannot be checked here.)
func TestApplyCRDsAndRejectInvalidEnum(t *testing.T) {
	dirs, skip, err := kubetest.Kuma().Resolve()
	if skip != "" {
		t.Skip(skip)
	}
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dirs[0], "*kuma.io_meshtrafficpermissions.yaml"))
	if err != nil || len(files) != 1 {
		t.Fatalf("the Kuma CRDs in %s hold %v MeshTrafficPermission CRDs (%v), want one", dirs[0], files, err)
	}
	env := shared.Env(t)
	ns := env.Namespace(t, "kuma")
	ctx := t.Context()
	c := newClient(t, env, "run-kuma")

	crd := readObject(t, files[0])
	mtp := func(name, action string) *unstructured.Unstructured {
		return fixtures.Unstructured("kuma.io/v1alpha1", "MeshTrafficPermission", ns, name, map[string]any{
			"targetRef": map[string]any{"kind": "Mesh"},
			"from": []any{map[string]any{
				"targetRef": map[string]any{"kind": "Mesh"},
				"default":   map[string]any{"action": action},
			}},
		})
	}
	if err := c.Apply(ctx, mtp("allow-all", "Allow"), crd); err != nil {
		t.Fatal(err)
	}
	misspelt := mtp("misspelt", "Allow")
	misspelt.Object["spec"].(map[string]any)["form"] = misspelt.Object["spec"].(map[string]any)["from"]
	delete(misspelt.Object["spec"].(map[string]any), "from")
	for _, tc := range []struct {
		obj  *unstructured.Unstructured
		want []string
	}{
		{mtp("bad-action", "Permit"), []string{"MeshTrafficPermission " + ns + "/bad-action", "spec.from[0].default.action", "Permit"}},
		// Server-side apply refuses fields the CRD schema does not declare.
		{misspelt, []string{"MeshTrafficPermission " + ns + "/misspelt", ".spec.form", "not declared"}},
	} {
		err := c.Apply(ctx, tc.obj)
		if err == nil {
			t.Errorf("%s applied; want rejected", tc.obj.GetName())
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
	}

	// Cleanup removes this run's policy but keeps the CRD: deleting it would
	// take every MeshTrafficPermission along, also those of other owners.
	if err := c.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "allow-all"}, mtp("allow-all", "")); !apierrors.IsNotFound(err) {
		t.Errorf("MeshTrafficPermission allow-all after Cleanup: %v, want NotFound", err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(crd), crd); err != nil {
		t.Errorf("CRD after Cleanup: %v, want kept", err)
	}
}

func readObject(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096).Decode(&u.Object); err != nil && err != io.EOF {
		t.Fatalf("%s: %v", path, err)
	}
	return u
}

func ptr[T any](v T) *T { return &v }
