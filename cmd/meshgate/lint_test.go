package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const lintData = "../../internal/lint/testdata/rules/"

func runLintCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestLintExitCodes(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout []string
		stderr []string
	}{
		{"Pod-IP finding fails", []string{"lint", "-f", lintData + "kuma-strict-base.yaml", "-f", lintData + "podip-kuma-ignore.yaml"}, "", 1,
			[]string{"podip-kuma-ignore.yaml:36: error MG001", "Ingress/shop/echo", "Service/shop/echo"}, []string{"1 finding(s) at or above error"}},
		{"fixed variant passes", []string{"lint", "-f", lintData + "kuma-strict-base.yaml", "-f", lintData + "podip-kuma-service-upstream.yaml"}, "", 0,
			[]string{"0 errors, 0 warnings, 0 info"}, nil},
		{"warning passes at default threshold", []string{"lint", "-f", lintData + "istio-shop.yaml", "-f", lintData + "ra-echo.yaml"}, "", 0,
			[]string{"warning MG009"}, nil},
		{"warning fails with --fail-on warning", []string{"lint", "--fail-on", "warning", "-f", lintData + "istio-shop.yaml", "-f", lintData + "ra-echo.yaml"}, "", 1,
			nil, []string{"at or above warning"}},
		{"--fail-on never", []string{"lint", "--fail-on", "never", "-f", lintData + "mesh-no-mtp.yaml"}, "", 0, []string{"error MG008"}, nil},
		{"stdin", []string{"lint", "-f", "-"}, "apiVersion: kuma.io/v1alpha1\nkind: Mesh\nmetadata: {name: m}\nspec: {mtls: {enabledBackend: ca}}\n", 1,
			[]string{"<stdin>:1: error MG008"}, nil},
		{"unparseable YAML", []string{"lint", "-f", "-"}, "apiVersion: v1\nkind: [\n", 2, nil, []string{"<stdin>:", "invalid YAML"}},
		{"missing file", []string{"lint", "-f", "nope.yaml"}, "", 2, nil, []string{"nope.yaml"}},
		{"bad format", []string{"lint", "--format", "xml", "-f", "-"}, "", 2, nil, []string{"--format"}},
		{"bad fail-on", []string{"lint", "--fail-on", "info", "-f", "-"}, "", 2, nil, []string{"--fail-on"}},
		{"files and cluster together", []string{"lint", "-f", "-", "--context", "x"}, "", 2, nil, []string{"not both"}},
		{"-n places Helm output", []string{"lint", "-n", "shop", "-f", lintData + "kuma-strict-base.yaml", "-f", "-"},
			"apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {kuma.io/sidecar-injection: disabled}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: echo}\n" +
				"spec: {selector: {matchLabels: {app: echo}}, template: {metadata: {labels: {app: echo, kuma.io/sidecar-injection: enabled}}, " +
				"spec: {containers: [{name: e, image: e}]}}}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: echo}\n" +
				"spec: {selector: {app: echo}, ports: [{port: 8080}]}\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: echo}\n" +
				"spec: {ingressClassName: kong, defaultBackend: {service: {name: echo, port: {number: 8080}}}}\n", 1,
			[]string{"<stdin>:15: error MG001: Ingress/shop/echo routes to Service/shop/echo"}, nil},
		{"duplicates are named", []string{"lint", "-f", lintData + "istio-shop.yaml", "-f", lintData + "service-upstream.yaml"}, "", 0,
			nil, []string{"Service/shop/echo at " + lintData + "service-upstream.yaml:2 replaces the one at " + lintData + "istio-shop.yaml:"}},
		{"rules list", []string{"lint", "--rules"}, "", 0, []string{"MG001  error", "MG014  warning", "fact: "}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runLintCLI(t, tc.stdin, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
		})
	}
}

func TestLintWritesReportFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "lint.json")
	code, _, errOut := runLintCLI(t, "", "lint", "--format", "json", "-o", out, "-f", lintData+"bridge-route-8080.yaml")
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errOut)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Findings []struct {
			Rule   string `json:"rule"`
			Object struct {
				File string `json:"file"`
				Line int    `json:"line"`
			} `json:"object"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 1 || r.Findings[0].Rule != "MG005" || r.Findings[0].Object.Line != 22 {
		t.Fatalf("want one MG005 at line 22, got %s", b)
	}
	if !strings.Contains(errOut, "report in "+out) {
		t.Fatalf("stderr does not name the report: %s", errOut)
	}
}

func TestLintHelpTeaches(t *testing.T) {
	code, out, _ := runLintCLI(t, "", "lint", "--help")
	for _, s := range []string{"--rules", "--fail-on", "sarif", "-f -", "Exit codes", "MG001  error", "MG014  warning"} {
		if !strings.Contains(out, s) {
			t.Errorf("help lacks %q", s)
		}
	}
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func TestLintUnreachableClusterIsBadInput(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "config")
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: nowhere, context: {cluster: c, user: u}}]
current-context: nowhere
`
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runLintCLI(t, "", "lint", "--kubeconfig", kubeconfig, "--context", "nowhere")
	if code != 2 || !strings.Contains(errOut, "127.0.0.1:1") {
		t.Fatalf("exit %d, want 2 naming the server; stderr: %s", code, errOut)
	}
	code, _, errOut = runLintCLI(t, "", "lint", "--kubeconfig", kubeconfig, "--context", "missing")
	if code != 2 || !strings.Contains(errOut, "missing") {
		t.Fatalf("unknown context: exit %d, want 2 naming it; stderr: %s", code, errOut)
	}
}

// The acceptance, on the rendered fixtures the project commits:
// the reproduction exits 1 naming the Pod-IP rule and the objects, the
// fixed variants exit 0.
func TestLintProjectFixtureGoldens(t *testing.T) {
	tests := []struct {
		file string
		code int
		want []string
	}{
		{"../../fixtures/kuma/testdata/kuma_podip-502.yaml", 1,
			[]string{"error MG001", "HTTPRoute/kong-air-production/check-in-ingress", "Service/kong-air-production/check-in-api"}},
		{"../../fixtures/istio/testdata/istio_podip.yaml", 1, []string{"error MG001", "HTTPRoute/api-system/order-service"}},
		{"../../fixtures/kuma/testdata/kuma_externalname-bridge.yaml", 0, []string{"0 errors, 0 warnings, 0 info"}},
		{"../../fixtures/kuma/testdata/kuma_service-upstream.yaml", 0, []string{"0 errors, 0 warnings, 0 info"}},
		{"../../fixtures/istio/testdata/istio_service-upstream.yaml", 0, []string{"0 errors, 0 warnings, 0 info"}},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			code, out, errOut := runLintCLI(t, "", "lint", "-f", tc.file)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, errOut)
			}
			for _, s := range tc.want {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
		})
	}
}
