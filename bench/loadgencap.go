package bench

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/meshgate/meshgate/internal/cluster"
)

// checkLoadgenFits refuses to start loadgen pods whose CPU requests the
// nodes reserved for load cannot hold, instead of waiting minutes for a pod
// the scheduler leaves Pending. Free CPU is the nodes' allocatable minus the
// requests of the pods already there, earlier loadgen pods aside (they are
// replaced). Sidecars are injected at admission, so their requests (Istio's
// 100m by default) are not in pods and not counted: the margin is the user's.
func checkLoadgenFits(ctx context.Context, cs kubernetes.Interface, pods []*corev1.Pod, loaders int) error {
	sel := labels.SelectorFromSet(map[string]string{cluster.LoadgenNodeLabel: cluster.LoadgenPool}).String()
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return fmt.Errorf("list the load nodes (%s): %w", sel, err)
	}
	if len(nodes.Items) == 0 {
		return fmt.Errorf("no node is labelled %s, so the loadgen pods cannot be scheduled; `meshgate up` creates one (label it and taint it %s:NoSchedule on a cluster of your own)", sel, cluster.LoadgenTaintKey)
	}
	onLoadNode := map[string]bool{}
	var allocatable, used, want resource.Quantity
	var names []string
	for _, n := range nodes.Items {
		onLoadNode[n.Name] = true
		names = append(names, n.Name)
		allocatable.Add(*n.Status.Allocatable.Cpu())
	}
	running, err := cs.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list pods to find the load node's free CPU: %w", err)
	}
	for i := range running.Items {
		p := &running.Items[i]
		done := p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
		if onLoadNode[p.Spec.NodeName] && !done && p.Labels["app.kubernetes.io/name"] != loadgenAppName {
			used.Add(cpuRequest(p))
		}
	}
	for _, p := range pods {
		want.Add(cpuRequest(p))
	}
	free := allocatable.DeepCopy()
	free.Sub(used)
	if want.Cmp(free) > 0 {
		return fmt.Errorf("--loaders %d: the %d loadgen pods request %s CPU, but the load node (%s) has %s free (%s allocatable, %s requested by pods already there); lower --loaders or give the load node more CPUs (a kind node has the host's)",
			loaders, len(pods), want.String(), strings.Join(names, ", "), free.String(), allocatable.String(), used.String())
	}
	return nil
}

// cpuRequest is a pod's CPU request as the scheduler adds it up: its
// containers and its restartable (sidecar) init containers.
func cpuRequest(p *corev1.Pod) resource.Quantity {
	var q resource.Quantity
	for _, c := range p.Spec.Containers {
		q.Add(*c.Resources.Requests.Cpu())
	}
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			q.Add(*c.Resources.Requests.Cpu())
		}
	}
	return q
}
