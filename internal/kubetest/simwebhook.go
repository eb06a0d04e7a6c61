package kubetest

// The admission webhook server of the simulated cluster. It is minimal on
// purpose (allow, or add a sidecar container) and can merge with the
// recording server of the admission tests (webhook.go) later.

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// SimWebhook serves every admission webhook a chart installs on the
// simulated cluster, where the chart's own server (kuma-cp, istiod, Kong's
// controller) never runs. Its PostRenderer points each webhook's clientConfig
// at this server, so the API server still decides, with the chart's own
// rules, selectors and failure policies, which requests reach it. Validating
// calls are allowed; a Pod sent to an injector named in Injectors gets that
// sidecar container, as the mesh's injector would add it; every call is
// recorded.
type SimWebhook struct {
	URL      string
	CABundle []byte
	// Injectors maps a webhook name suffix (e.g. "kuma-injector.kuma.io") to
	// the sidecar container that webhook adds to a Pod.
	Injectors map[string]string

	mu    sync.Mutex
	calls []WebhookCall
}

// WebhookCall is one admission request the server answered.
type WebhookCall struct {
	Webhook   string // the webhook's name in its configuration
	Kind      string
	Namespace string
	Name      string
	Operation string
	DryRun    bool
	Patched   bool // a sidecar was added
}

// StartWebhook serves admission on 127.0.0.1 with the simulated cluster's
// serving certificate until t ends.
func (s *Sim) StartWebhook(t testing.TB, injectors map[string]string) *SimWebhook {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &SimWebhook{URL: "https://" + l.Addr().String(), CABundle: s.CA.CertPEM, Injectors: injectors}
	srv := &http.Server{Handler: w, TLSConfig: &tls.Config{Certificates: []tls.Certificate{s.Serving.TLSCertificate()}, MinVersion: tls.VersionTLS12}}
	go func() { _ = srv.ServeTLS(l, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return w
}

// Calls returns the requests answered so far.
func (w *SimWebhook) Calls() []WebhookCall {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]WebhookCall(nil), w.calls...)
}

// ServeHTTP answers an AdmissionReview sent to /<webhook name>.
func (w *SimWebhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	answerAdmission(rw, r, func(req *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, error) {
		call := WebhookCall{
			Webhook: strings.TrimPrefix(r.URL.Path, "/"), Kind: req.Kind.Kind, Namespace: req.Namespace, Name: req.Name,
			Operation: string(req.Operation), DryRun: req.DryRun != nil && *req.DryRun,
		}
		resp := &admissionv1.AdmissionResponse{Allowed: true}
		if sidecar := w.injects(call.Webhook); sidecar != "" && req.Kind.Kind == "Pod" {
			patch, err := sidecarPatch(req.Object.Raw, sidecar)
			if err != nil {
				return nil, err
			}
			if patch != nil {
				pt := admissionv1.PatchTypeJSONPatch
				resp.Patch, resp.PatchType, call.Patched = patch, &pt, true
			}
		}
		w.mu.Lock()
		w.calls = append(w.calls, call)
		w.mu.Unlock()
		return resp, nil
	})
}

func (w *SimWebhook) injects(webhook string) string {
	for suffix, sidecar := range w.Injectors {
		if strings.HasSuffix(webhook, suffix) {
			return sidecar
		}
	}
	return ""
}

// sidecarPatch adds the sidecar container unless the Pod has it already
// (injectors are idempotent: two of a mesh's webhooks may see one Pod).
func sidecarPatch(raw []byte, sidecar string) ([]byte, error) {
	var pod corev1.Pod
	if err := json.Unmarshal(raw, &pod); err != nil {
		return nil, fmt.Errorf("pod in admission request: %w", err)
	}
	for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
		if c.Name == sidecar {
			return nil, nil
		}
	}
	return json.Marshal([]map[string]any{{
		"op": "add", "path": "/spec/containers/-",
		"value": corev1.Container{Name: sidecar, Image: "sim.invalid/" + sidecar},
	}})
}

// PostRenderer is a Helm post-renderer that points the clientConfig of every
// webhook in a Mutating- or ValidatingWebhookConfiguration at w, by URL,
// with w's CA bundle; nothing else changes.
func (w *SimWebhook) PostRenderer() *WebhookRedirect {
	return &WebhookRedirect{URL: w.URL, CABundle: w.CABundle}
}

// WebhookRedirect rewrites webhook clientConfigs to URL/<webhook name>.
type WebhookRedirect struct {
	URL      string
	CABundle []byte
}

// Run implements Helm's postrenderer.PostRenderer.
func (p *WebhookRedirect) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(in.Bytes()), 4096)
	var out bytes.Buffer
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return &out, nil
			}
			return nil, fmt.Errorf("redirect webhooks: %w", err)
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		switch u.GetKind() {
		case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
			if err := p.redirect(u); err != nil {
				return nil, err
			}
		}
		y, err := yaml.Marshal(u.Object)
		if err != nil {
			return nil, err
		}
		out.WriteString("---\n")
		out.Write(y)
	}
}

func (p *WebhookRedirect) redirect(u *unstructured.Unstructured) error {
	hooks, _, err := unstructured.NestedSlice(u.Object, "webhooks")
	if err != nil {
		return fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
	}
	for i, h := range hooks {
		hook, ok := h.(map[string]any)
		if !ok {
			return fmt.Errorf("%s %s: webhook %d is not an object", u.GetKind(), u.GetName(), i)
		}
		name, _ := hook["name"].(string)
		hook["clientConfig"] = map[string]any{"url": p.URL + "/" + name, "caBundle": base64.StdEncoding.EncodeToString(p.CABundle)}
	}
	return unstructured.SetNestedSlice(u.Object, hooks, "webhooks")
}
