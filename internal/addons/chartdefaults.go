package addons

import (
	"fmt"
	"slices"

	admregv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshgate/meshgate/internal/cluster"
)

// A ChartDefault is something a chart does by default that the scenarios
// rely on while meshgate's values never set it: plan names each with its
// source, and checks it in the rendered release.
type ChartDefault struct {
	Chart  string   // matrix key of the chart that sets it
	Meshes []string // the meshes whose scenarios rely on it
	What   string
	Source string
	Why    string
	// check returns nil when the rendered release shows the default.
	check func(objs []*unstructured.Unstructured) error
}

// Check looks for the default in a rendered release.
func (d ChartDefault) Check(rendered string) error {
	objs, err := DecodeYAML([]byte(rendered))
	if err != nil {
		return err
	}
	return d.check(objs)
}

// ChartDefaults lists the defaults mesh's scenarios rely on.
func ChartDefaults(mesh string) []ChartDefault {
	var out []ChartDefault
	for _, d := range chartDefaults {
		if slices.Contains(d.Meshes, mesh) {
			out = append(out, d)
		}
	}
	return out
}

var chartDefaults = []ChartDefault{
	{
		Chart: ChartKong, Meshes: []string{cluster.MeshKuma},
		What:   "Kong's gateway pods are annotated kuma.io/gateway: enabled",
		Source: "Kong/charts kong-3.2.0 charts/kong/values.yaml podAnnotations (the ingress 0.24.0 chart's gateway subchart)",
		Why:    "Kuma then runs Kong's sidecar as a delegated gateway: no inbound listener, outbound still captured, so Kong's upstream calls join the mesh",
		check:  podAnnotation(cluster.KongGatewayName, "kuma.io/gateway", "enabled"),
	},
	{
		Chart: ChartKong, Meshes: []string{cluster.MeshKuma},
		What:   "Kong's controller pods are annotated traffic.kuma.io/exclude-outbound-ports: \"8444\"",
		Source: "Kong/charts ingress-0.24.0 charts/ingress/values.yaml controller.podAnnotations",
		Why:    "the controller reaches the gateways' admin API (8444, TLS) past its sidecar",
		check:  podAnnotation(cluster.KongControllerName, "traffic.kuma.io/exclude-outbound-ports", "8444"),
	},
	{
		Chart: ChartKong, Meshes: []string{cluster.MeshIstio},
		What:   "Kong's controller pods are annotated traffic.sidecar.istio.io/excludeOutboundPorts: \"8444\"",
		Source: "Kong/charts ingress-0.24.0 charts/ingress/values.yaml controller.podAnnotations",
		Why:    "the controller reaches the gateways' admin API (8444, TLS) past its sidecar",
		check:  podAnnotation(cluster.KongControllerName, "traffic.sidecar.istio.io/excludeOutboundPorts", "8444"),
	},
	{
		Chart: ChartKuma, Meshes: []string{cluster.MeshKuma},
		What:   "webhook namespace-kuma-injector.kuma.io injects pods in namespaces labelled kuma.io/sidecar-injection: enabled (or \"true\")",
		Source: "kumahq/kuma v2.14.3 deployments/charts/kuma/templates/cp-webhooks-and-secrets.yaml",
		Why:    "Kong's namespace is labelled enabled, so Kong's pods get their sidecars",
		check: webhookSelects("namespace-kuma-injector.kuma.io",
			metav1.LabelSelectorRequirement{Key: "kuma.io/sidecar-injection", Operator: metav1.LabelSelectorOpIn, Values: []string{"enabled", "true"}}, nil),
	},
	{
		Chart: ChartKuma, Meshes: []string{cluster.MeshKuma},
		What:   "webhook pods-kuma-injector.kuma.io injects pods labelled kuma.io/sidecar-injection: enabled only in namespaces that carry that label at all (operator Exists)",
		Source: "kumahq/kuma v2.14.3 deployments/charts/kuma/templates/cp-webhooks-and-secrets.yaml",
		Why:    "the backends are injected by pod label in a namespace labelled disabled, which keeps Kuma's service controller from adding service-upstream",
		check: webhookSelects("pods-kuma-injector.kuma.io",
			metav1.LabelSelectorRequirement{Key: "kuma.io/sidecar-injection", Operator: metav1.LabelSelectorOpExists},
			map[string]string{"kuma.io/sidecar-injection": "enabled"}),
	},
	{
		Chart: ChartIstiod, Meshes: []string{cluster.MeshIstio},
		What:   "webhook namespace.sidecar-injector.istio.io injects pods in namespaces labelled istio-injection: enabled",
		Source: "istio/istio 1.31.0-rc.0 manifests/charts/istio-control/istio-discovery/templates/mutatingwebhook.yaml (revision \"\")",
		Why:    "Kong's namespace and the backends' are labelled istio-injection: enabled",
		check: webhookSelects("namespace.sidecar-injector.istio.io",
			metav1.LabelSelectorRequirement{Key: "istio-injection", Operator: metav1.LabelSelectorOpIn, Values: []string{"enabled"}}, nil),
	},
}

// podAnnotation checks a Deployment's pod template annotation.
func podAnnotation(deployment, key, value string) func([]*unstructured.Unstructured) error {
	return func(objs []*unstructured.Unstructured) error {
		for _, o := range objs {
			if o.GetKind() != "Deployment" || o.GetName() != deployment {
				continue
			}
			var d appsv1.Deployment
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
				return err
			}
			got, ok := d.Spec.Template.Annotations[key]
			if !ok || got != value {
				return fmt.Errorf("Deployment %s's pods are annotated %s: %q (set: %v), not %q", deployment, key, got, ok, value)
			}
			return nil
		}
		return fmt.Errorf("no Deployment %s rendered", deployment)
	}
}

// webhookSelects checks that a mutating webhook's namespaceSelector has the
// requirement and its objectSelector the labels.
func webhookSelects(name string, ns metav1.LabelSelectorRequirement, objLabels map[string]string) func([]*unstructured.Unstructured) error {
	return func(objs []*unstructured.Unstructured) error {
		for _, o := range objs {
			if o.GetKind() != "MutatingWebhookConfiguration" {
				continue
			}
			var c admregv1.MutatingWebhookConfiguration
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &c); err != nil {
				return err
			}
			for _, w := range c.Webhooks {
				if w.Name == name {
					return selects(w, ns, objLabels)
				}
			}
		}
		return fmt.Errorf("no mutating webhook %s rendered", name)
	}
}

func selects(w admregv1.MutatingWebhook, ns metav1.LabelSelectorRequirement, objLabels map[string]string) error {
	if w.NamespaceSelector == nil || !slices.ContainsFunc(w.NamespaceSelector.MatchExpressions, func(r metav1.LabelSelectorRequirement) bool {
		return r.Key == ns.Key && r.Operator == ns.Operator && slices.Equal(r.Values, ns.Values)
	}) {
		return fmt.Errorf("webhook %s: namespaceSelector %v lacks %s %s %v", w.Name, w.NamespaceSelector, ns.Key, ns.Operator, ns.Values)
	}
	for k, v := range objLabels {
		if w.ObjectSelector == nil || w.ObjectSelector.MatchLabels[k] != v {
			return fmt.Errorf("webhook %s: objectSelector %v lacks %s=%s", w.Name, w.ObjectSelector, k, v)
		}
	}
	return nil
}
