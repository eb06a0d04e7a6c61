package kube

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const testJWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"

func TestRedactText(t *testing.T) {
	tests := []struct {
		name, in string
		gone     []string // must not survive
		kept     []string // must survive
	}{
		{"bearer header", "Authorization: Bearer abcdefghijklmnop123", []string{"abcdefghijklmnop123"}, []string{"Authorization: Bearer " + Redacted}},
		{"basic header", "authorization: Basic dXNlcjpwYXNzd29yZA==", []string{"dXNlcjpwYXNzd29yZA=="}, []string{"Basic " + Redacted}},
		{"bare jwt in a log line", "claims from " + testJWT + " ok", []string{testJWT, "c2lnbmF0dXJlLWJ5dGVz"}, []string{"claims from " + Redacted + "-JWT ok"}},
		{"jwt in a query", "GET /x?access_token=" + testJWT, []string{testJWT}, []string{"GET /x?access_token="}},
		{"pem private key", "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY-----\ncert", []string{"MIIEowIBAAKCAQEA"}, []string{"BEGIN RSA PRIVATE KEY", "cert"}},
		{"escaped pem in json", `{"private_key":{"inline_string":"-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----\n"}}`, []string{"MIIEvQ"}, []string{"inline_string"}},
		{"yaml token field", "token: s3cr3t-value\nuser: alice", []string{"s3cr3t-value"}, []string{"token: " + Redacted, "user: alice"}},
		{"json password field", `{"password":"hunter2","name":"db"}`, []string{"hunter2"}, []string{`"password":"` + Redacted + `"`, `"name":"db"`}},
		{"kubeconfig key data", "client-key-data: LS0tLS1CRUdJTg==", []string{"LS0tLS1CRUdJTg=="}, []string{"client-key-data: " + Redacted}},
		{"innocent text untouched", "upstream_keepalive_pool_size: 0\nssl.handshake: 12", nil, []string{"upstream_keepalive_pool_size: 0", "ssl.handshake: 12"}},
		{"certificate is not a secret", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", nil, []string{"MIIB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RedactText(tt.in)
			for _, g := range tt.gone {
				if strings.Contains(got, g) {
					t.Errorf("%q survived redaction: %q", g, got)
				}
			}
			for _, k := range tt.kept {
				if !strings.Contains(got, k) {
					t.Errorf("%q missing after redaction: %q", k, got)
				}
			}
		})
	}
}

func TestRedactObjectSecret(t *testing.T) {
	secret := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "jwt-keys", "namespace": "kong", "annotations": map[string]any{
			"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"key":"c2VjcmV0"}}`,
			"note": "keep me",
		}},
		"data":       map[string]any{"tls.key": "c2VjcmV0LWtleQ==", "ca.crt": "Y2VydA=="},
		"stringData": map[string]any{"token": "plain"},
	}}
	got := RedactObject(secret)
	data, _, _ := unstructured.NestedStringMap(got.Object, "data")
	for k, v := range data {
		if !strings.HasPrefix(v, Redacted) {
			t.Errorf("data[%s] = %q, want redacted", k, v)
		}
	}
	sd, _, _ := unstructured.NestedStringMap(got.Object, "stringData")
	if !strings.HasPrefix(sd["token"], Redacted) {
		t.Errorf("stringData.token = %q", sd["token"])
	}
	ann := got.GetAnnotations()
	if _, ok := ann["kubectl.kubernetes.io/last-applied-configuration"]; ok {
		t.Error("last-applied-configuration kept; it repeats the secret's data")
	}
	if ann["note"] != "keep me" {
		t.Errorf("other annotations lost: %v", ann)
	}
	orig, _, _ := unstructured.NestedStringMap(secret.Object, "data")
	if orig["tls.key"] != "c2VjcmV0LWtleQ==" {
		t.Error("RedactObject changed its input")
	}
}

func TestRedactObjectPodEnv(t *testing.T) {
	pod := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "client"},
		"spec": map[string]any{"containers": []any{map[string]any{
			"name": "c",
			"args": []any{"--header", "Authorization: Bearer " + testJWT},
		}}},
	}}
	got := RedactObject(pod)
	c := got.Object["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	arg := c["args"].([]any)[1].(string)
	if strings.Contains(arg, "eyJ") {
		t.Errorf("token survived in pod args: %q", arg)
	}
}
