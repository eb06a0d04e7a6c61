package kubetest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestWebhookRedirect(t *testing.T) {
	in := `apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: injector}
webhooks:
- name: pods.injector.example.io
  clientConfig:
    service: {name: cp, namespace: mesh-system, path: /inject}
    caBundle: b2xk
  namespaceSelector: {matchLabels: {inject: enabled}}
---
apiVersion: v1
kind: Service
metadata: {name: cp, namespace: mesh-system}
spec: {ports: [{port: 443}]}
`
	out, err := (&WebhookRedirect{URL: "https://127.0.0.1:9443", CABundle: []byte("CA")}).Run(bytes.NewBufferString(in))
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(out.String(), "---\n")[1:]
	if len(docs) != 2 {
		t.Fatalf("got %d documents, want 2:\n%s", len(docs), out)
	}
	var hook struct {
		Webhooks []struct {
			ClientConfig      map[string]any `json:"clientConfig"`
			NamespaceSelector map[string]any `json:"namespaceSelector"`
		} `json:"webhooks"`
	}
	if err := yaml.Unmarshal([]byte(docs[0]), &hook); err != nil {
		t.Fatal(err)
	}
	cc := hook.Webhooks[0].ClientConfig
	want := map[string]any{"url": "https://127.0.0.1:9443/pods.injector.example.io", "caBundle": base64.StdEncoding.EncodeToString([]byte("CA"))}
	if len(cc) != 2 || cc["url"] != want["url"] || cc["caBundle"] != want["caBundle"] {
		t.Errorf("clientConfig %v, want %v", cc, want)
	}
	if hook.Webhooks[0].NamespaceSelector == nil {
		t.Error("namespaceSelector dropped: only clientConfig may change")
	}
	if !strings.Contains(docs[1], "kind: Service") || !strings.Contains(docs[1], "port: 443") {
		t.Errorf("the Service changed or went missing:\n%s", docs[1])
	}
}

func TestSidecarPatch(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pod   string
		patch bool
	}{
		{"adds the sidecar", `{"spec":{"containers":[{"name":"app"}]}}`, true},
		{"already injected", `{"spec":{"containers":[{"name":"app"},{"name":"kuma-sidecar"}]}}`, false},
		{"native sidecar already there", `{"spec":{"initContainers":[{"name":"kuma-sidecar"}],"containers":[{"name":"app"}]}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			patch, err := sidecarPatch([]byte(tc.pod), "kuma-sidecar")
			if err != nil {
				t.Fatal(err)
			}
			if (patch != nil) != tc.patch {
				t.Fatalf("patch %s, want one: %v", patch, tc.patch)
			}
			if patch == nil {
				return
			}
			var ops []struct {
				Op, Path string
				Value    struct{ Name string }
			}
			if err := json.Unmarshal(patch, &ops); err != nil {
				t.Fatal(err)
			}
			if len(ops) != 1 || ops[0].Op != "add" || ops[0].Path != "/spec/containers/-" || ops[0].Value.Name != "kuma-sidecar" {
				t.Errorf("patch %s, want one add of container kuma-sidecar", patch)
			}
		})
	}
}
