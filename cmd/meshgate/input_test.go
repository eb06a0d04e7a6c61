package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/cluster"
)

// Every bad flag is refused with exit 2, naming the flag, before any work:
// no attack, no cluster, no folder.
func TestBadFlagsAreUsageErrors(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	out := filepath.Join(t.TempDir(), "never")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"gate percentile", []string{"bench", "--local", "--out", out, "--gate-percentiles", "p42"}, []string{`--gate-percentiles has "p42"`}},
		{"gate confidence", []string{"bench", "--local", "--out", out, "--gate-confidence", "2"}, []string{"--gate-confidence is 2"}},
		{"repeated connections", []string{"bench", "--local", "--out", out, "--connections", "16,16"}, []string{"--connections has 16 twice"}},
		{"bench timeout", []string{"bench", "--local", "--out", out, "--timeout", "-5s"}, []string{"--timeout is -5s"}},
		{"bench proxy", []string{"bench", "--local", "--out", out, "--proxy", "envoy"}, []string{`--proxy "envoy"`}},
		{"body bytes", []string{"bench", "--local", "--out", out, "--body-bytes", "-1"}, []string{"--body-bytes is -1"}},
		{"all at once", []string{"bench", "--local", "--out", out, "--rate", "0", "--reps", "0"}, []string{"--rate is 0", "--reps is 0"}},
		{"up workers", []string{"up", "--mesh", "kuma", "--out", out, "--workers", "-3"}, []string{"--workers is -3"}},
		{"up timeout", []string{"up", "--mesh", "kuma", "--out", out, "--timeout", "-5s"}, []string{"--timeout is -5s"}},
		{"up proxy port", []string{"up", "--mesh", "kuma", "--out", out, "--proxy-port", "70000"}, []string{"--proxy-port is 70000"}},
		{"up tls port", []string{"up", "--mesh", "kuma", "--out", out, "--proxy-tls-port", "-2"}, []string{"--proxy-tls-port is -2"}},
		{"up keepalive", []string{"up", "--mesh", "kuma", "--out", out, "--kong-keepalive-pool", "-2"}, []string{"--kong-keepalive-pool is -2"}},
		{"up service type on kind", []string{"up", "--mesh", "kuma", "--out", out, "--proxy-service-type", "NodePort"}, []string{"NodePort"}},
		{"e2e workers", []string{"e2e", "--mesh", "kuma", "--out", out, "--workers", "-1"}, []string{"--workers is -1"}},
		{"doctor output", []string{"doctor", "--output", "yaml"}, []string{`--output "yaml"`}},
		{"doctor port", []string{"doctor", "--port", "70000"}, []string{"--port 70000"}},
		{"unknown flag", []string{"up", "--wrokers", "2"}, []string{"unknown flag: --wrokers", "meshgate up --help"}},
		{"bad flag value", []string{"bench", "--rate", "fast"}, []string{"--rate", "meshgate bench --help"}},
		{"unknown command", []string{"benchmark"}, []string{`unknown command "benchmark"`}},
		{"stray argument", []string{"doctor", "now"}, []string{"unknown command \"now\""}},
		{"unknown matrix key", []string{"plan", "--mesh", "kuma", "--set", "images.kong-contoller=kong/kubernetes-ingress-controller:3.6"}, []string{"images.kong-contoller is not an image", "kong-controller"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stderr %q", code, exitUsage, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q lacks %q", errOut, w)
				}
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a refused command created %s", out)
			}
		})
	}
}

// deadKubeconfig points at a loopback port nothing listens on.
func deadKubeconfig(t *testing.T) (path, server string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server = "https://" + l.Addr().String()
	l.Close()
	path = filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "` + server + `"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: dead, context: {cluster: c, user: u}}]
current-context: dead
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, server
}

// A dead API server or Docker engine is named as such, with what was tried
// and the fix, before anything else happens.
func TestUnreachableClusterAndDockerAreNamed(t *testing.T) {
	kubeconfig, server := deadKubeconfig(t)
	sock := "unix://" + filepath.Join(t.TempDir(), "no-docker.sock")
	t.Setenv("DOCKER_HOST", sock)
	out := filepath.Join(t.TempDir(), "run")
	run := filepath.Join(t.TempDir(), "kept")
	state := `{"runID":"r1","provider":"existing","mesh":"kuma","name":"dead","kubeconfig":"` + kubeconfig + `","context":"dead","clusterCreated":false}`
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, "meshgate-env.json"), []byte(state), 0o644); err != nil {
		t.Fatal(err)
	}
	clusterWants := []string{"the cluster is not reachable", server, `context "dead"`, kubeconfig, "start the cluster"}
	dockerWants := []string{"Docker is not reachable", sock, "start the Docker engine"}
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"lint live", []string{"lint", "--kubeconfig", kubeconfig}, 2, clusterWants},
		{"up existing", []string{"up", "--mesh", "kuma", "--kubeconfig", kubeconfig, "--out", out}, 1, append(clusterWants, "nothing was created")},
		{"e2e existing", []string{"e2e", "--mesh", "kuma", "--kubeconfig", kubeconfig, "--out", out}, 1, append(clusterWants, "nothing was created")},
		{"down run on existing", []string{"down", "--run", run}, 1, clusterWants},
		{"up kind", []string{"up", "--mesh", "kuma", "--out", out}, 1, append(dockerWants, "nothing was created")},
		{"down kind", []string{"down", "--name", "meshgate-x"}, 1, append(dockerWants, "kind cluster meshgate-x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			for _, bad := range []string{"forbidden", "look for CRD", "permission"} {
				if strings.Contains(errOut, bad) {
					t.Errorf("stderr blames %q for an unreachable target:\n%s", bad, errOut)
				}
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a run that never reached its target left %s", out)
			}
		})
	}
}

func TestVersionPrintsModuleAndMatrix(t *testing.T) {
	code, out, _ := runCLI(t, "--version")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"meshgate ", "go1.", "images.kong-controller", "charts.kuma", "kuma 2.14.3", "kind.nodeImage", "kindest/node:", "gatewayAPI"} {
		if !strings.Contains(out, want) {
			t.Errorf("--version lacks %q:\n%s", want, out)
		}
	}
}

func TestDoctorJSON(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "absent.sock"))
	code, out, _ := runCLI(t, "doctor", "--output", "json", "--port", "0")
	if code != 1 {
		t.Errorf("exit %d with no Docker, want 1", code)
	}
	var got struct {
		Schema string `json:"schema"`
		OK     bool   `json:"ok"`
		Checks []struct {
			Check, Status, Detail, Fix string
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("doctor --output json is not JSON: %v\n%s", err, out)
	}
	if got.Schema != doctorSchema || got.OK || len(got.Checks) == 0 || got.Checks[0].Check != "Docker" || got.Checks[0].Status != "fail" || got.Checks[0].Fix == "" {
		t.Errorf("unexpected doctor JSON: %+v", got)
	}
}

func TestBenchHelpNamesTheLoadgenLabel(t *testing.T) {
	_, out, _ := runCLI(t, "bench", "--help")
	want := cluster.LoadgenNodeLabel + "=" + cluster.LoadgenPool
	if !strings.Contains(out, want) || strings.Contains(out, "meshgate.io/role") {
		t.Errorf("bench --help should name the node label %s (internal/cluster/kind.go):\n%s", want, out)
	}
}
