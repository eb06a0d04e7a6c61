package stack

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/cluster"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string // "" means valid
	}{
		{"kind kuma", Options{Mesh: "kuma"}, ""},
		{"existing istio", Options{Mesh: "istio", Provider: "existing", Context: "prod"}, ""},
		{"no mesh", Options{}, `mesh "": choose one of kuma, istio, istio-ambient`},
		{"unknown mesh", Options{Mesh: "linkerd"}, `mesh "linkerd"`},
		{"kubeconfig on kind", Options{Mesh: "kuma", Kubeconfig: "/k"}, "do not apply to a kind cluster"},
		{"reuse without name", Options{Mesh: "kuma", Reuse: true}, "--reuse needs --name"},
		{"reuse on existing", Options{Mesh: "kuma", Provider: "existing", Reuse: true}, "--reuse applies to kind"},
		{"unknown provider", Options{Mesh: "kuma", Provider: "eks"}, `provider "eks"`},
		{"existing with a load balancer", Options{Mesh: "kuma", Provider: "existing", ProxyServiceType: "LoadBalancer"}, ""},
		{"proxy service type on kind", Options{Mesh: "kuma", ProxyServiceType: "ClusterIP"}, "applies to an existing cluster"},
		{"unknown proxy service type", Options{Mesh: "kuma", Provider: "existing", ProxyServiceType: "NodePort"}, `--proxy-service-type "NodePort"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("valid options rejected: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestWithDefaults(t *testing.T) {
	o := withDefaults(Options{Mesh: "kuma"})
	if o.Provider != cluster.ProviderKind || o.Workers != 2 || o.ProxyHostPort != 30080 || o.ProxyTLSHostPort != 30443 || o.Timeout == 0 {
		t.Errorf("defaults %+v", o)
	}
	h, tl, err := hostPorts(Options{ProxyHostPort: -1, ProxyTLSHostPort: 18443})
	if err != nil || h <= 0 || h == 30080 || tl != 18443 {
		t.Errorf("hostPorts = %d, %d, %v", h, tl, err)
	}
}

func TestUpFailsEarlyWithoutDocker(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "absent.sock"))
	dir := t.TempDir()
	env, err := Up(context.Background(), Options{Mesh: "kuma", RunDir: dir})
	if err == nil {
		t.Fatal("Up without Docker succeeded")
	}
	if !strings.Contains(err.Error(), "step cluster") || !strings.Contains(err.Error(), "Docker is not reachable") {
		t.Errorf("error %q should name the step and Docker", err)
	}
	if env == nil || env.Created {
		t.Errorf("env %+v: nothing may be marked created", env)
	}
	if _, err := os.Stat(filepath.Join(dir, StateFile)); err == nil {
		t.Error("a failed, cleaned-up run left its state file")
	}
}

// A run folder Up had to create is removed again when nothing was written
// to it; one the user made beforehand stays.
func TestUpFailingEarlyLeavesNoEmptyRunFolder(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "absent.sock"))
	fresh := filepath.Join(t.TempDir(), "run")
	if _, err := Up(context.Background(), Options{Mesh: "kuma", RunDir: fresh}); err == nil {
		t.Fatal("Up without Docker succeeded")
	}
	if _, err := os.Stat(fresh); err == nil {
		t.Errorf("Up failed before Docker and left the empty run folder %s", fresh)
	}
	mine := t.TempDir()
	if _, err := Up(context.Background(), Options{Mesh: "kuma", RunDir: mine}); err == nil {
		t.Fatal("Up without Docker succeeded")
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("Up removed a run folder it did not create: %v", err)
	}
}

func TestStateRoundTripAndDownRunRefusals(t *testing.T) {
	dir := t.TempDir()
	env := &cluster.Env{RunID: "r1", RunDir: dir, Provider: cluster.ProviderKind, Name: "kept", KubeconfigPath: filepath.Join(dir, "kubeconfig"), Created: false}
	if err := saveState(env); err != nil {
		t.Fatal(err)
	}
	err := DownRun(context.Background(), dir, nil)
	if err == nil || !strings.Contains(err.Error(), "did not create it") || !strings.Contains(err.Error(), "meshgate down --name kept") {
		t.Errorf("down of a reused cluster: %v", err)
	}
	if err := DownRun(context.Background(), t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), StateFile) {
		t.Errorf("down of a folder without state: %v", err)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, StateFile), []byte(`{"provider":"eks"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := DownRun(context.Background(), bad, nil); err == nil || !strings.Contains(err.Error(), `unknown provider "eks"`) {
		t.Errorf("unknown provider: %v", err)
	}
}

func TestDownKeepClosesOnlyLocalCleanups(t *testing.T) {
	var ran []string
	env := &cluster.Env{RunDir: t.TempDir()}
	env.Defer("delete cluster", func(context.Context) error { ran = append(ran, "delete"); return nil })
	env.DeferLocal("forward", func(context.Context) error { ran = append(ran, "forward"); return nil })
	if err := Down(context.Background(), env, DownOptions{Keep: true}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(ran, ",") != "forward" {
		t.Fatalf("Down --keep ran %v", ran)
	}
	if err := Down(context.Background(), env, DownOptions{}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(ran, ",") != "forward,delete" {
		t.Errorf("Down ran %v", ran)
	}
	if err := Down(context.Background(), nil, DownOptions{}); err != nil {
		t.Errorf("Down(nil): %v", err)
	}
}
