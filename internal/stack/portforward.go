package stack

import (
	"context"
	"fmt"
	"time"

	"github.com/meshgate/meshgate/internal/kube"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// forward opens a port-forward from 127.0.0.1:<free port> to a ready pod
// matching selector in ns, on podPort. It returns the local port and a stop
// function. The forward follows one pod: if that pod goes away, Up's caller
// sees connection errors and reruns.
func forward(ctx context.Context, cfg *rest.Config, ns, selector string, podPort int) (int, func(), error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return 0, nil, err
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return 0, nil, fmt.Errorf("pods %s in %s: %w", selector, ns, err)
	}
	var pod *corev1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil && podHasPort(p, podPort) {
			pod = p
			break
		}
	}
	if pod == nil {
		return 0, nil, fmt.Errorf("no running pod with port %d matches %q in namespace %s", podPort, selector, ns)
	}
	return kube.ForwardPort(ctx, cfg, ns, pod.Name, podPort, 30*time.Second)
}

func podHasPort(p *corev1.Pod, port int) bool {
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if int(cp.ContainerPort) == port {
				return true
			}
		}
	}
	return false
}
