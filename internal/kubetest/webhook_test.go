package kubetest

import (
	"slices"
	"strings"
	"testing"

	admregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Two webhooks on one service path, told apart by the recorder, and the API
// server's selector matching deciding which one a pod reaches.
func TestWebhooksRecordWhatTheAPIServerCalls(t *testing.T) {
	env := Start(t)
	path := "/inject"
	none := admregv1.SideEffectClassNone
	hook := func(name string, ns, obj *metav1.LabelSelector) admregv1.MutatingWebhook {
		return admregv1.MutatingWebhook{
			Name: name, AdmissionReviewVersions: []string{"v1"}, SideEffects: &none,
			NamespaceSelector: ns, ObjectSelector: obj,
			ClientConfig: admregv1.WebhookClientConfig{Service: &admregv1.ServiceReference{Namespace: "x", Name: "x", Path: &path}},
			Rules: []admregv1.RuleWithOperations{{
				Operations: []admregv1.OperationType{admregv1.Create},
				Rule:       admregv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
			}},
		}
	}
	cfg := &admregv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "test-injector"},
		Webhooks: []admregv1.MutatingWebhook{
			hook("namespace.test.meshgate.io", &metav1.LabelSelector{MatchLabels: map[string]string{"inject": "enabled"}}, nil),
			hook("pods.test.meshgate.io", &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "inject", Operator: metav1.LabelSelectorOpExists}}},
				&metav1.LabelSelector{MatchLabels: map[string]string{"inject": "enabled"}}),
		},
	}
	w := ServeWebhooks(t, env.Config, []*admregv1.MutatingWebhookConfiguration{cfg}, nil)

	for _, tc := range []struct {
		nsLabel, podLabel string
		want              []string
	}{
		{"enabled", "", []string{"namespace.test.meshgate.io"}},
		{"disabled", "enabled", []string{"pods.test.meshgate.io"}},
		{"", "enabled", nil}, // the namespace lacks the label: pods.test is never asked
		{"disabled", "", nil},
		{"enabled", "enabled", []string{"namespace.test.meshgate.io", "pods.test.meshgate.io"}},
	} {
		t.Run("ns="+tc.nsLabel+",pod="+tc.podLabel, func(t *testing.T) {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "hook-", Labels: map[string]string{}}}
			if tc.nsLabel != "" {
				ns.Labels["inject"] = tc.nsLabel
			}
			if err := env.Client.Create(t.Context(), ns); err != nil {
				t.Fatal(err)
			}
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "p", Labels: map[string]string{}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}},
			}
			if tc.podLabel != "" {
				pod.Labels["inject"] = tc.podLabel
			}
			if err := env.Client.Create(t.Context(), pod); err != nil {
				t.Fatal(err)
			}
			if got := w.Reached("pods", ns.Name, "p"); !slices.Equal(got, tc.want) {
				t.Errorf("reached %v, want %v", got, tc.want)
			}
		})
	}
	for _, c := range w.Calls() {
		if c.Configuration != "test-injector" || c.Operation != "CREATE" || !strings.HasPrefix(c.Namespace, "hook-") {
			t.Errorf("call recorded as %+v", c)
		}
	}
}
