package bench

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/meshgate/meshgate/internal/cluster"
)

func TestLoadgenPodsMustFitTheLoadNode(t *testing.T) {
	loadNode := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "w3", Labels: map[string]string{cluster.LoadgenNodeLabel: cluster.LoadgenPool}},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}}}
	worker := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "w1"},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16")}}}
	pod := func(name, node, cpu string, phase corev1.PodPhase, labels map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "x", Labels: labels},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}},
			Status: corev1.PodStatus{Phase: phase}}
	}
	kindnet := pod("kindnet-w3", "w3", "100m", corev1.PodRunning, nil)
	sidecar := pod("with-native-sidecar", "w3", "100m", corev1.PodRunning, nil)
	sidecar.Spec.InitContainers = []corev1.Container{{Name: "proxy", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("900m")}}}}
	earlier := pod("meshgate-loadgen-plain-0", "w3", "1", corev1.PodRunning, map[string]string{"app.kubernetes.io/name": loadgenAppName})
	elsewhere := pod("kong", "w1", "3", corev1.PodRunning, nil)
	finished := pod("job", "w3", "3", corev1.PodSucceeded, nil)

	tests := []struct {
		name    string
		objects []runtime.Object
		loaders int
		want    string // "" fits
	}{
		{"one loader of each kind fits", []runtime.Object{loadNode, worker, kindnet, earlier, elsewhere, finished}, 1, ""},
		{"two of each do not", []runtime.Object{loadNode, worker, kindnet, earlier, elsewhere, finished}, 2,
			"--loaders 2: the 4 loadgen pods request 4 CPU, but the load node (w3) has 3900m free (4 allocatable, 100m requested by pods already there)"},
		{"a native sidecar counts", []runtime.Object{loadNode, sidecar}, 2, "has 3 free (4 allocatable, 1 requested"},
		{"no load node", []runtime.Object{worker}, 1, "no node is labelled meshgate.io/pool=loadgen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := NewClusterPlan(ClusterOptions{Mesh: cluster.MeshKuma, Loaders: tt.loaders})
			err := checkLoadgenFits(t.Context(), fake.NewClientset(tt.objects...), p.LoadgenPods(), tt.loaders)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
