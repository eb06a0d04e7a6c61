package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestPlanPrintsTheWholePlanOffline(t *testing.T) {
	for mesh, musts := range map[string][]string{
		"kuma":  {"kuma 2.14.3", "ingress 0.24.0", "kumahq/kuma-cp:2.14.3", "10-kindnet.conflist", "upstream images", "gateways.gateway.networking.k8s.io"},
		"istio": {"base 1.31.1", "istiod 1.31.1", "istio/proxyv2:1.31.1", "ssl.handshake", "istio-injection"},
	} {
		t.Run(mesh, func(t *testing.T) {
			t.Setenv("XDG_CACHE_HOME", t.TempDir()) // an empty Helm cache: nothing to render, nothing fetched
			code, out, errs := runCLI(t, "plan", "--mesh", mesh)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			for _, m := range append(musts, "## kind cluster", "## Helm releases", "## Images", "## Manifests", "meshgate/echo:dev", "meshgate/loadgen:dev", "not rendered") {
				if m == "upstream images" {
					continue
				}
				if !strings.Contains(out, m) {
					t.Errorf("plan --mesh %s lacks %q", mesh, m)
				}
			}
		})
	}
}

func TestPlanOverridesAndBadInput(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	code, out, _ := runCLI(t, "plan", "--mesh", "kuma", "--set", "images.kong=kong:3.10", "--image-mirror", "mirror.example")
	if code != 0 || !strings.Contains(out, "mirror.example/kong:3.10") || !strings.Contains(out, "registry: mirror.example/kumahq") {
		t.Errorf("overrides not in the plan (exit %d)", code)
	}
	code, _, errs := runCLI(t, "plan", "--mesh", "linkerd")
	if code != 2 || !strings.Contains(errs, "choose one of kuma, istio, istio-ambient") {
		t.Errorf("bad mesh: exit %d, %q", code, errs)
	}
	code, _, errs = runCLI(t, "plan", "--mesh", "kuma", "--versions", filepath.Join(t.TempDir(), "absent.yaml"))
	if code != 2 || !strings.Contains(errs, "absent.yaml") {
		t.Errorf("missing versions file: exit %d, %q", code, errs)
	}
}

func TestDoctorNamesDocker(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "absent.sock"))
	code, out, errs := runCLI(t, "doctor", "--port", "0")
	if code == 0 {
		t.Fatal("doctor passed with no Docker engine")
	}
	if !strings.Contains(out, "FAIL  Docker") || !strings.Contains(out, "fix: install and start Docker") {
		t.Errorf("doctor output lacks the Docker failure and fix:\n%s", out)
	}
	if !strings.Contains(errs, "Docker") {
		t.Errorf("doctor's error line does not name Docker: %q", errs)
	}
}

func TestUpAndDownFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"up"}, "--mesh is required"},
		{[]string{"up", "--mesh", "kuma", "--kubeconfig", "k", "--name", "x"}, "--name names a kind cluster"},
		{[]string{"up", "--mesh", "kuma", "--context", "prod", "--preload"}, "--preload loads images into kind"},
		{[]string{"up", "--mesh", "kuma", "--set", "nonsense"}, "want key=value"},
		{[]string{"down"}, "exactly one of --name"},
		{[]string{"down", "--name", "a", "--run", "b"}, "exactly one of --name"},
	}
	for _, tt := range tests {
		code, _, errs := runCLI(t, tt.args...)
		if code != 2 || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with %q", tt.args, code, errs, tt.want)
		}
	}
}
