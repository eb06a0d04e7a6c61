package kubetest

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A Deployment on the simulated cluster rolls out: the controller manager
// makes its pods, the scheduler binds them to fake nodes and kwok marks them
// Running and Ready, which envtest alone never does.
func TestSimRollsOutADeployment(t *testing.T) {
	s := StartSim(t, SimOptions{Nodes: 2})
	ctx := t.Context()
	ns := s.Namespace(t, "sim")
	labels := map[string]string{"app": "web"}
	replicas := int32(2)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example.invalid/web:1"}}},
			},
		},
	}
	if err := s.Client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if err := s.Client.Get(ctx, client.ObjectKeyFromObject(d), d); err != nil {
			t.Fatal(err)
		}
		if d.Status.AvailableReplicas == replicas {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deployment not available after a minute: %+v (logs in %s)", d.Status, s.LogDir)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var pods corev1.PodList
	if err := s.Client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels(labels)); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName == "" || p.Status.Phase != corev1.PodRunning {
			t.Errorf("pod %s: node %q phase %s, want a fake node and Running", p.Name, p.Spec.NodeName, p.Status.Phase)
		}
	}
}
