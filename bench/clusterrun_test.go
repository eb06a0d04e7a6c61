package bench

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/meshgate/meshgate/fixtures/kong"
	"github.com/meshgate/meshgate/internal/cluster"
)

func TestBackendObjectsPerMesh(t *testing.T) {
	tests := []struct {
		mesh          string
		injectLabel   string
		meshBackend   string
		meshPort      int32
		upstreamAnnot bool
		// meshHost is the Host Kong sends on the meshed route (port aside),
		// as KIC and Kong build it; "" when the mesh does not route by it.
		meshHost string
		echoes   int // the JWT mode has its own echo
	}{
		{cluster.MeshKuma, "kuma.io/sidecar-injection", "echo-bench-bridge", 80, false, "", 2},
		{cluster.MeshIstio, "istio-injection", "echo-bench", 8080, true, "echo-bench.meshgate-bench-mesh.svc.cluster.local", 3},
	}
	for _, tt := range tests {
		t.Run(tt.mesh, func(t *testing.T) {
			p, _ := NewClusterPlan(ClusterOptions{Mesh: tt.mesh})
			var deps, ingresses int
			var meshSvc, meshRoute map[string]string
			for _, obj := range p.AllObjects() {
				switch v := obj.(type) {
				case *corev1.Namespace:
					meshed := v.Name == p.Options.MeshNamespace
					if meshed != (v.Labels[tt.injectLabel] == "enabled") {
						t.Errorf("namespace %s labels %v", v.Name, v.Labels)
					}
				case *appsv1.Deployment:
					deps++
					if v.Spec.Template.Spec.Containers[0].Image != "meshgate/echo:dev" {
						t.Errorf("echo %s/%s image %s", v.Namespace, v.Name, v.Spec.Template.Spec.Containers[0].Image)
					}
				case *corev1.Service:
					if v.Spec.Type == corev1.ServiceTypeExternalName && v.Spec.ExternalName != "echo-bench.meshgate-bench-mesh.svc.8080.mesh" {
						t.Errorf("bridge points at %s", v.Spec.ExternalName)
					}
					if v.Namespace == p.Options.MeshNamespace && v.Name == "echo-bench" {
						meshSvc = v.Annotations
						if tt.upstreamAnnot != (v.Annotations["ingress.kubernetes.io/service-upstream"] == "true") {
							t.Errorf("meshed echo Service annotations %v", v.Annotations)
						}
					}
				case *networkingv1.Ingress:
					ingresses++
					b := v.Spec.Rules[0].HTTP.Paths[0].Backend.Service
					if v.Name == "bench-mesh" {
						meshRoute = v.Annotations
						if b.Name != tt.meshBackend || b.Port.Number != tt.meshPort {
							t.Errorf("meshed route goes to %s:%d, want %s:%d", b.Name, b.Port.Number, tt.meshBackend, tt.meshPort)
						}
					}
				}
			}
			if deps != tt.echoes || ingresses != tt.echoes {
				t.Errorf("%d echo Deployments and %d routes, want %d of each", deps, ingresses, tt.echoes)
			}
			if tt.meshHost != "" {
				sent := kong.SendsHost(meshRoute, meshSvc, "kong-gateway-proxy.kong.svc.cluster.local", "echo-bench.meshgate-bench-mesh.svc:8080")
				if h, _, _ := strings.Cut(sent, ":"); h != tt.meshHost {
					t.Errorf("Kong sends Host %q on the meshed route (route %v, Service %v), want %s", sent, meshRoute, meshSvc, tt.meshHost)
				}
			}
		})
	}
}

func TestClusterFacts(t *testing.T) {
	ctx := context.Background()
	p, _ := NewClusterPlan(ClusterOptions{Mesh: cluster.MeshKuma})
	cs := fake.NewSimpleClientset()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "echo-1", Namespace: p.Options.Namespace, Labels: map[string]string{"app.kubernetes.io/name": "echo-bench"}},
		Status: corev1.PodStatus{PodIP: "10.244.1.7", Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	cs.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if ip, err := podIP(ctx, cs, p.Options.Namespace, p.Modes[0].PodIPOf); err != nil || ip != "10.244.1.7" {
		t.Errorf("podIP = %q, %v", ip, err)
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "w2", Labels: map[string]string{cluster.LoadgenNodeLabel: cluster.LoadgenPool}},
		Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KernelVersion: "6.1.0", OperatingSystem: "linux", Architecture: "amd64"},
			Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi")}}}
	cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	env, err := clusterEnv(ctx, cs)
	if err != nil || len(env.Nodes) != 1 || env.Nodes[0] != (Node{Name: "w2", Role: "loadgen", OS: "linux", Arch: "amd64", KernelVersion: "6.1.0", Cores: 4, MemMB: 8192}) {
		t.Errorf("clusterEnv = %+v, %v", env, err)
	}
}
