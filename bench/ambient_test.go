package bench

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meshgate/meshgate/internal/cluster"
)

func TestAmbientClusterPlan(t *testing.T) {
	p, err := NewClusterPlan(ClusterOptions{Mesh: cluster.MeshIstioAmbient})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ModeBaseline, ModeBaselineAA, ModeKong, ModeMesh, ModeKongMesh, ModeMeshWaypoint, ModeKongMeshWaypoint}
	if got := p.ModeNames(); !slices.Equal(got, want) {
		t.Errorf("modes %v, want %v", got, want)
	}
	if p.Skipped[ModeKongMeshJWT] == "" {
		t.Error("kong-mesh-jwt left out without a reason")
	}
	for _, m := range p.Modes {
		if m.Name == ModeMeshWaypoint && (m.Loadgen != LoadgenMesh || !strings.Contains(m.URL, "echo-bench-waypoint.meshgate-bench-mesh.svc")) {
			t.Errorf("mesh-waypoint: loadgen %s URL %s", m.Loadgen, m.URL)
		}
		if m.Name == ModeKongMeshWaypoint && !strings.Contains(m.URL, "/bench/waypoint/bytes/1024") {
			t.Errorf("kong-mesh-waypoint URL %s", m.URL)
		}
	}
	for _, pod := range p.LoadgenPods() {
		enrolled := pod.Labels["istio.io/dataplane-mode"] == "ambient"
		if enrolled != (pod.Labels["meshgate.io/loadgen"] == LoadgenMesh) {
			t.Errorf("loadgen %s labels %v: only the mesh loadgen is enrolled in ambient", pod.Name, pod.Labels)
		}
	}
}

// The waypoint modes measure an L7 hop only if the Service is bound to the
// waypoint and Kong addresses the Service (a Pod-IP upstream would skip it).
func TestAmbientBackendObjects(t *testing.T) {
	p, _ := NewClusterPlan(ClusterOptions{Mesh: cluster.MeshIstioAmbient})
	var wpSvc *corev1.Service
	routed := false
	for _, obj := range p.AllObjects() {
		switch v := obj.(type) {
		case *corev1.Namespace:
			if (v.Name == p.Options.MeshNamespace) != (v.Labels["istio.io/dataplane-mode"] == "ambient") {
				t.Errorf("namespace %s labels %v: only the mesh namespace is enrolled", v.Name, v.Labels)
			}
		case *corev1.Service:
			if v.Name == "echo-bench-waypoint" {
				wpSvc = v
			}
		case *networkingv1.Ingress:
			if b := v.Spec.Rules[0].HTTP.Paths[0]; b.Path == "/bench/waypoint" && b.Backend.Service.Name == "echo-bench-waypoint" {
				routed = true
			}
		}
	}
	if wpSvc == nil || wpSvc.Labels["istio.io/use-waypoint"] != "waypoint" || wpSvc.Annotations["ingress.kubernetes.io/service-upstream"] != "true" ||
		wpSvc.Spec.Selector["app.kubernetes.io/name"] != "echo-bench" {
		t.Fatalf("waypoint Service %+v: want use-waypoint=waypoint, service-upstream, the echo pods", wpSvc)
	}
	if !routed {
		t.Error("no Kong route /bench/waypoint to echo-bench-waypoint")
	}
	gw := p.Waypoint().(*gwv1.Gateway)
	if gw.Namespace != p.Options.MeshNamespace || gw.Name != "waypoint" || gw.Spec.GatewayClassName != "istio-waypoint" {
		t.Errorf("waypoint %s/%s class %s", gw.Namespace, gw.Name, gw.Spec.GatewayClassName)
	}
}
