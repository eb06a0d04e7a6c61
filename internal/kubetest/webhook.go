package kubetest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admregv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// An AdmissionCall is one request the API server sent to a webhook.
type AdmissionCall struct {
	Configuration string // the Mutating/ValidatingWebhookConfiguration
	Webhook       string // the webhook's name in it
	Operation     string
	Resource      string // e.g. "pods"
	Namespace     string
	Name          string
}

// Webhooks is a recording admission webhook server: the API server calls it
// for every webhook of the configurations installed with ServeWebhooks, and
// it allows every request unchanged. Which webhooks were called, for which
// object, is decided by the API server's own selector matching.
type Webhooks struct {
	mu    sync.Mutex
	calls []AdmissionCall
	hooks []AdmissionCall // by path index: Configuration and Webhook
}

// ServeWebhooks installs the configurations on the API server cfg points at
// (creating them, or updating those that exist, such as a chart's after a
// Helm install) with every clientConfig pointed at a recording server (TLS
// set up by envtest's WebhookInstallOptions), and stops the server when t
// ends. The objects passed in are changed: each webhook gets its own path,
// so two webhooks that share a service path upstream stay apart.
func ServeWebhooks(t testing.TB, cfg *rest.Config, mutating []*admregv1.MutatingWebhookConfiguration, validating []*admregv1.ValidatingWebhookConfiguration) *Webhooks {
	t.Helper()
	w := &Webhooks{}
	for _, c := range mutating {
		for i := range c.Webhooks {
			w.route(&c.Webhooks[i].ClientConfig, c.Name, c.Webhooks[i].Name)
		}
	}
	for _, c := range validating {
		for i := range c.Webhooks {
			w.route(&c.Webhooks[i].ClientConfig, c.Name, c.Webhooks[i].Name)
		}
	}
	opts := &envtest.WebhookInstallOptions{
		MutatingWebhooks: mutating, ValidatingWebhooks: validating,
		LocalServingHost: "127.0.0.1", MaxTime: 30 * time.Second,
	}
	if err := opts.PrepWithoutInstalling(); err != nil {
		t.Fatalf("preparing webhook TLS: %v", err)
	}
	t.Cleanup(func() { _ = opts.Cleanup() })
	stop, err := w.serve(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	if err := opts.Install(cfg); err != nil {
		t.Fatalf("installing webhook configurations: %v", err)
	}
	return w
}

// route gives the webhook its own path on the recording server.
func (w *Webhooks) route(cc *admregv1.WebhookClientConfig, config, webhook string) {
	path := "/hook/" + strconv.Itoa(len(w.hooks))
	w.hooks = append(w.hooks, AdmissionCall{Configuration: config, Webhook: webhook})
	cc.URL = nil
	cc.Service = &admregv1.ServiceReference{Namespace: "envtest", Name: "recorder", Path: &path}
}

func (w *Webhooks) serve(opts *envtest.WebhookInstallOptions) (stop func(), err error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(opts.LocalServingCertDir, "tls.crt"), filepath.Join(opts.LocalServingCertDir, "tls.key"))
	if err != nil {
		return nil, fmt.Errorf("webhook serving certificate: %w", err)
	}
	addr := net.JoinHostPort(opts.LocalServingHost, strconv.Itoa(opts.LocalServingPort))
	ln, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, fmt.Errorf("webhook server on %s: %w", addr, err)
	}
	// No ServeMux: envtest writes URLs as https://host:port//hook/N, which a
	// mux would redirect.
	srv := &http.Server{Handler: http.HandlerFunc(w.handle), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

func (w *Webhooks) handle(rw http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(strings.TrimPrefix(strings.TrimLeft(r.URL.Path, "/"), "hook/"))
	if err != nil || i < 0 || i >= len(w.hooks) {
		http.Error(rw, "unknown webhook path "+r.URL.Path, http.StatusNotFound)
		return
	}
	answerAdmission(rw, r, func(req *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, error) {
		call := w.hooks[i]
		call.Operation, call.Resource = string(req.Operation), req.Resource.Resource
		call.Namespace, call.Name = req.Namespace, req.Name
		w.mu.Lock()
		w.calls = append(w.calls, call)
		w.mu.Unlock()
		return &admissionv1.AdmissionResponse{Allowed: true}, nil
	})
}

// answerAdmission decodes an AdmissionReview, lets answer build the response
// (its UID is set here) and writes the review back; a request that is not an
// AdmissionReview, or that answer refuses, gets 400.
func answerAdmission(rw http.ResponseWriter, r *http.Request, answer func(*admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, error)) {
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(io.LimitReader(r.Body, 8<<20)).Decode(&review); err != nil || review.Request == nil {
		http.Error(rw, fmt.Sprintf("not an AdmissionReview (err %v)", err), http.StatusBadRequest)
		return
	}
	resp, err := answer(review.Request)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	resp.UID = review.Request.UID
	review.Response, review.Request = resp, nil
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(review)
}

// Calls returns every call so far, in arrival order.
func (w *Webhooks) Calls() []AdmissionCall {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.calls)
}

// Reached returns the names of the webhooks called for one object, sorted
// and without repeats.
func (w *Webhooks) Reached(resource, namespace, name string) []string {
	var out []string
	for _, c := range w.Calls() {
		if c.Resource == resource && c.Namespace == namespace && c.Name == name && !slices.Contains(out, c.Webhook) {
			out = append(out, c.Webhook)
		}
	}
	slices.Sort(out)
	return out
}

// SplitWebhookConfigurations takes the Mutating- and
// ValidatingWebhookConfigurations out of objs (rendered charts, say) and
// returns them typed, with the other objects.
func SplitWebhookConfigurations(objs []*unstructured.Unstructured) (mutating []*admregv1.MutatingWebhookConfiguration, validating []*admregv1.ValidatingWebhookConfiguration, rest []*unstructured.Unstructured, err error) {
	for _, o := range objs {
		if o.GroupVersionKind().Group != admregv1.GroupName {
			rest = append(rest, o)
			continue
		}
		var target metav1.Object
		switch o.GetKind() {
		case "MutatingWebhookConfiguration":
			m := &admregv1.MutatingWebhookConfiguration{}
			mutating, target = append(mutating, m), m
		case "ValidatingWebhookConfiguration":
			v := &admregv1.ValidatingWebhookConfiguration{}
			validating, target = append(validating, v), v
		default:
			rest = append(rest, o)
			continue
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, target); err != nil {
			return nil, nil, nil, fmt.Errorf("%s %s: %w", o.GetKind(), o.GetName(), err)
		}
		target.SetNamespace("") // cluster-scoped; some charts set it anyway
	}
	return mutating, validating, rest, nil
}
