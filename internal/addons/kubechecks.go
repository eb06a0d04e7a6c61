package addons

import (
	"context"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/internal/cluster"
)

// DeploymentAvailable holds when the Deployment's controller has seen its
// latest generation and every desired replica is updated and available.
func DeploymentAvailable(c client.Client, ns, name string) Check {
	return Check{Name: "deployment " + ns + "/" + name + " available", Ready: func(ctx context.Context) (bool, string, error) {
		var d appsv1.Deployment
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
			return false, "", err
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		s := d.Status
		seen := fmt.Sprintf("generation %d observed %d, replicas %d updated %d available %d", d.Generation, s.ObservedGeneration, want, s.UpdatedReplicas, s.AvailableReplicas)
		return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas >= want && s.AvailableReplicas >= want, seen, nil
	}}
}

// CRDEstablished holds when the CRD is served.
func CRDEstablished(c client.Client, name string) Check {
	return Check{Name: "CRD " + name + " established", Ready: func(ctx context.Context) (bool, string, error) {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
			return false, "", err
		}
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established {
				return cond.Status == apiextensionsv1.ConditionTrue, string(cond.Type) + "=" + string(cond.Status) + " " + cond.Message, nil
			}
		}
		return false, "no Established condition yet", nil
	}}
}

// KumaMeshGVK is Kuma's Mesh kind.
var KumaMeshGVK = schema.GroupVersionKind{Group: "kuma.io", Version: "v1alpha1", Kind: "Mesh"}

// KumaMeshPresent holds when the control plane has created the Mesh.
func KumaMeshPresent(c client.Client, mesh string) Check {
	return Check{Name: "Kuma Mesh " + mesh + " present", Ready: func(ctx context.Context) (bool, string, error) {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(KumaMeshGVK)
		err := c.Get(ctx, client.ObjectKey{Name: mesh}, u)
		if apierrors.IsNotFound(err) {
			return false, "not created by the control plane yet", nil
		}
		return err == nil, "", err
	}}
}

// Sidecar container names the injectors add.
const (
	KumaSidecar  = "kuma-sidecar"
	IstioSidecar = "istio-proxy"
)

// InjectionProbePod is the Pod sent as a server-side dry run to prove the
// injection webhook injects in ns.
func InjectionProbePod(ns string, labels map[string]string) *corev1.Pod {
	l := map[string]string{fixtures.LabelManagedBy: fixtures.ManagedBy, "app": "meshgate-injection-probe"}
	for k, v := range labels {
		l[k] = v
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "meshgate-injection-probe", Namespace: ns, Labels: l},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "probe", Image: fixtures.EchoImage,
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
		}}},
	}
}

// SidecarInjected holds when a server-side dry-run create of
// InjectionProbePod comes back with the sidecar container (as a container or
// a native sidecar init container): the webhook is registered, reachable and
// injecting in ns, which "control plane available" alone does not prove.
func SidecarInjected(c client.Client, ns, sidecar string, labels map[string]string) Check {
	return Check{Name: "injection webhook adds " + sidecar + " in namespace " + ns, Ready: func(ctx context.Context) (bool, string, error) {
		pod := InjectionProbePod(ns, labels)
		if err := c.Create(ctx, pod, client.DryRunAll); err != nil {
			return false, "", fmt.Errorf("dry-run create of pod %s/%s: %w", ns, pod.Name, err)
		}
		names := ContainerNames(pod)
		return slices.Contains(names, sidecar), fmt.Sprintf("dry-run pod came back with containers %v", names), nil
	}}
}

// ContainerNames lists init and regular container names of a Pod.
func ContainerNames(p *corev1.Pod) []string {
	var names []string
	for _, c := range p.Spec.InitContainers {
		names = append(names, c.Name)
	}
	for _, c := range p.Spec.Containers {
		names = append(names, c.Name)
	}
	return names
}

// InstalledMeshes reports which meshes have their CRDs on the cluster.
func InstalledMeshes(ctx context.Context, c client.Client) ([]string, error) {
	var found []string
	for mesh, crd := range map[string]string{cluster.MeshKuma: "meshes.kuma.io", cluster.MeshIstio: "peerauthentications.security.istio.io"} {
		err := c.Get(ctx, client.ObjectKey{Name: crd}, &apiextensionsv1.CustomResourceDefinition{})
		switch {
		case err == nil:
			found = append(found, mesh)
		case client.IgnoreNotFound(err) != nil:
			return nil, fmt.Errorf("look for CRD %s: %w", crd, err)
		}
	}
	if len(found) == 2 && found[0] > found[1] {
		found[0], found[1] = found[1], found[0]
	}
	// Both Istio flavours install the same CRDs; ztunnel tells them apart.
	for i, m := range found {
		if m != cluster.MeshIstio {
			continue
		}
		err := c.Get(ctx, client.ObjectKey{Namespace: IstioNamespace, Name: ZtunnelName}, &appsv1.DaemonSet{})
		switch {
		case err == nil:
			found[i] = cluster.MeshIstioAmbient
		case client.IgnoreNotFound(err) != nil:
			return nil, fmt.Errorf("look for DaemonSet %s/%s: %w", IstioNamespace, ZtunnelName, err)
		}
	}
	return found, nil
}
