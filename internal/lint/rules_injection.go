package lint

import "fmt"

const factKumaWebhooks = "Kuma's injector webhooks (kuma chart 2.14.3 templates/cp-webhooks-and-secrets.yaml): namespace-kuma-injector selects " +
	"namespaces labelled kuma.io/sidecar-injection In (enabled, true); pods-kuma-injector selects pods labelled kuma.io/sidecar-injection: " +
	"enabled in namespaces where that label Exists. A pod label in an unlabelled namespace never reaches the injector."

// MG018: a pod opted in to Kuma in a namespace the injector never hears from.
func ruleKumaPodLabelIgnored() Rule {
	return Rule{
		ID: "MG018", Severity: SeverityError,
		Title: "Pods labelled for Kuma injection in a namespace without the label: no sidecar",
		Help: "Per-pod injection needs the namespace to carry kuma.io/sidecar-injection with some value: the pods webhook's " +
			"namespaceSelector is Exists. Without it the API server never calls the injector, and the workload runs outside the mesh.",
		Fact:  factKumaWebhooks,
		check: checkKumaPodLabelIgnored,
	}
}

func checkKumaPodLabelIgnored(m *Model, r Rule) []Finding {
	var out []Finding
	for _, p := range m.podsIn("") {
		ns := m.Get(kNamespace, "", p.obj.Namespace)
		if ns == nil || p.podLabels[lblKumaInjection] != "enabled" || m.kumaWebhookCalled(p.obj.Namespace, p.podLabels) {
			continue
		}
		msg := fmt.Sprintf("%s labels its pods kuma.io/sidecar-injection: enabled, but namespace %s has no kuma.io/sidecar-injection "+
			"label, so Kuma's pods webhook (namespaceSelector: the label Exists) is never called and the pods run without a sidecar. "+
			"Fix: label namespace %s kuma.io/sidecar-injection: disabled (the pod label stays the switch) or enabled.",
			p.obj.Ref(), ns.Name, ns.Name)
		out = append(out, r.finding(SeverityError, p.obj, msg, ns))
	}
	return out
}
