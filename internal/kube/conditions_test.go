package kube_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/internal/kube"
)

func cond(t string, s metav1.ConditionStatus, gen int64) metav1.Condition {
	return metav1.Condition{Type: t, Status: s, ObservedGeneration: gen, Reason: "R", Message: "m"}
}

func deploymentWith(gen, observed int64, replicas, updated, available, total int32) *appsv1.Deployment {
	d := deployment("ns", "d")
	d.Generation = gen
	d.Spec.Replicas = &replicas
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: observed, UpdatedReplicas: updated, AvailableReplicas: available, Replicas: total}
	return d
}

func gatewayWith(gen int64, conds ...metav1.Condition) *gatewayv1.Gateway {
	g := gateway("ns", "g")
	g.Generation = gen
	g.Status.Conditions = conds
	return g
}

func routeWith(gen int64, parents int, conds ...metav1.Condition) *gatewayv1.HTTPRoute {
	r := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "r", Generation: gen}}
	r.Spec.ParentRefs = []gatewayv1.ParentReference{{Name: "a"}, {Name: "b"}}
	for i := 0; i < parents; i++ {
		r.Status.Parents = append(r.Status.Parents, gatewayv1.RouteParentStatus{ParentRef: r.Spec.ParentRefs[i], Conditions: conds})
	}
	return r
}

func podWith(phase corev1.PodPhase, ready corev1.ConditionStatus) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}
	p.Status.Phase = phase
	if ready != "" {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: ready, Reason: "ContainersNotReady"}}
	}
	return p
}

func TestConditions(t *testing.T) {
	T, F := metav1.ConditionTrue, metav1.ConditionFalse
	mtp := fixtures.Unstructured("kuma.io/v1alpha1", "MeshTrafficPermission", "ns", "m", nil)
	mtp.SetGeneration(3)
	mtp.Object["status"] = map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "True", "observedGeneration": int64(2)}}}
	mtpReady := mtp.DeepCopy()
	mtpReady.Object["status"] = map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "True", "observedGeneration": int64(3)}}}

	for _, tc := range []struct {
		name   string
		cond   kube.Condition
		obj    client.Object
		done   bool
		reason string // substring; "" when done
		err    string // substring of a terminal error
	}{
		{"deployment available", kube.DeploymentAvailable(), deploymentWith(2, 2, 2, 2, 2, 2), true, "", ""},
		{"deployment old generation", kube.DeploymentAvailable(), deploymentWith(2, 1, 2, 2, 2, 2), false, "observedGeneration 1 < generation 2", ""},
		{"deployment rolling", kube.DeploymentAvailable(), deploymentWith(1, 1, 2, 2, 2, 3), false, "total 3", ""},
		{"deployment unavailable", kube.DeploymentAvailable(), deploymentWith(1, 1, 2, 2, 1, 2), false, "available 1", ""},
		{"pod ready", kube.PodReady(), podWith(corev1.PodRunning, corev1.ConditionTrue), true, "", ""},
		{"pod not ready", kube.PodReady(), podWith(corev1.PodRunning, corev1.ConditionFalse), false, "Ready=False ContainersNotReady", ""},
		{"pod pending", kube.PodReady(), podWith(corev1.PodPending, ""), false, "no Ready condition", ""},
		{"pod failed", kube.PodReady(), podWith(corev1.PodFailed, ""), false, "", "ended in phase Failed"},
		{"gateway programmed", kube.GatewayProgrammed(), gatewayWith(2, cond("Accepted", T, 2), cond("Programmed", T, 2)), true, "", ""},
		{"gateway not programmed", kube.GatewayProgrammed(), gatewayWith(2, cond("Accepted", T, 2), cond("Programmed", F, 2)), false, "Programmed=False", ""},
		{"gateway stale", kube.GatewayProgrammed(), gatewayWith(3, cond("Accepted", T, 2), cond("Programmed", T, 2)), false, "generation 2, object is at 3", ""},
		{"route accepted", kube.RouteAccepted(), routeWith(1, 2, cond("Accepted", T, 1), cond("ResolvedRefs", T, 1)), true, "", ""},
		{"route one parent missing", kube.RouteAccepted(), routeWith(1, 1, cond("Accepted", T, 1), cond("ResolvedRefs", T, 1)), false, "1 of 2 parents", ""},
		{"route refs unresolved", kube.RouteAccepted(), routeWith(1, 2, cond("Accepted", T, 1), cond("ResolvedRefs", F, 1)), false, "parent a: ResolvedRefs=False", ""},
		{"wrong type", kube.RouteAccepted(), podWith(corev1.PodRunning, ""), false, "", "RouteAccepted on *v1.Pod"},
		{"unstructured stale", kube.StatusCondition("Ready"), mtp, false, "generation 2, object is at 3", ""},
		{"unstructured ready", kube.StatusCondition("Ready"), mtpReady, true, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done, reason, err := tc.cond(tc.obj)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if done != tc.done || !strings.Contains(reason, tc.reason) {
				t.Errorf("done=%v reason=%q, want done=%v reason containing %q", done, reason, tc.done, tc.reason)
			}
		})
	}
}
