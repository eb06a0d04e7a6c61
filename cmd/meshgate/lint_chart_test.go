package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeChart makes a chart whose one template is the Kuma Pod-IP
// reproduction (MG001), rendered only when .Values.reproduce is true: the
// finding appears only if the chart was really rendered with --values.
func writeChart(t *testing.T, dir string) {
	t.Helper()
	repro, err := os.ReadFile("../../fixtures/kuma/testdata/kuma_podip-502.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"Chart.yaml":           "apiVersion: v2\nname: shop\nversion: 0.1.0\n",
		"values.yaml":          "reproduce: false\n",
		"templates/repro.yaml": "{{- if .Values.reproduce }}\n" + string(repro) + "\n{{- end }}\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLintRendersHelmCharts(t *testing.T) {
	root := t.TempDir()
	chart := filepath.Join(root, "deploy", "shop")
	writeChart(t, chart)
	on := filepath.Join(root, "on.yaml")
	if err := os.WriteFile(on, []byte("reproduce: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"chart with values", []string{"lint", "-f", chart, "--values", on}, 1, "error MG001"},
		{"chart with its defaults", []string{"lint", "-f", chart}, 0, "0 objects"},
		{"chart inside a folder", []string{"lint", "-f", filepath.Join(root, "deploy"), "--values", on}, 1, chart + " (rendered):"},
		{"missing values file", []string{"lint", "-f", chart, "--values", filepath.Join(root, "absent.yaml")}, 2, "absent.yaml"},
		{"values in live mode", []string{"lint", "--values", on}, 2, "--values applies to Helm charts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runLintCLI(t, "", tt.args...)
			if code != tt.code || !strings.Contains(out+errOut, tt.want) {
				t.Errorf("exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", code, tt.code, tt.want, out, errOut)
			}
			if strings.Contains(errOut, "invalid YAML") {
				t.Errorf("chart templates were parsed as manifests:\n%s", errOut)
			}
		})
	}
}
