package cluster

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
)

var update = flag.Bool("update", false, "rewrite golden files")

const testNodeImage = "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5"

func TestKindConfigGolden(t *testing.T) {
	got, err := KindConfig{Name: "meshgate-test", NodeImage: testNodeImage, Workers: 2, ProxyHostPort: 30080, ProxyTLSHostPort: 30443}.YAML()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "kind-config.golden.yaml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("kind config differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
}

func TestKindConfigShape(t *testing.T) {
	tests := []struct {
		name    string
		workers int
	}{{"no general workers", 0}, {"two workers", 2}, {"five workers", 5}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := KindConfig{Name: "x", NodeImage: testNodeImage, Workers: tt.workers, ProxyHostPort: 18080, ProxyTLSHostPort: 18443}.V1Alpha4()
			if cfg.APIVersion != "kind.x-k8s.io/v1alpha4" || cfg.Kind != "Cluster" {
				t.Errorf("type %s/%s", cfg.APIVersion, cfg.Kind)
			}
			var cps, workers, loadgen int
			for _, n := range cfg.Nodes {
				if n.Image != testNodeImage {
					t.Errorf("node image %q, want the pinned one", n.Image)
				}
				switch n.Role {
				case v1alpha4.ControlPlaneRole:
					cps++
					if len(n.ExtraPortMappings) != 2 {
						t.Fatalf("control-plane port mappings %+v", n.ExtraPortMappings)
					}
					for i, want := range [][2]int32{{KongProxyNodePort, 18080}, {KongProxyTLSNodePort, 18443}} {
						pm := n.ExtraPortMappings[i]
						if pm.ContainerPort != want[0] || pm.HostPort != want[1] || pm.ListenAddress != "127.0.0.1" {
							t.Errorf("mapping %d = %+v, want %d->127.0.0.1:%d", i, pm, want[0], want[1])
						}
					}
				case v1alpha4.WorkerRole:
					workers++
					if n.Labels[LoadgenNodeLabel] == LoadgenPool {
						loadgen++
						if len(n.KubeadmConfigPatches) != 1 || n.KubeadmConfigPatches[0] != loadgenTaintPatch {
							t.Errorf("load generator node patches %q", n.KubeadmConfigPatches)
						}
					} else if len(n.KubeadmConfigPatches) != 0 {
						t.Errorf("general worker carries patches %q", n.KubeadmConfigPatches)
					}
				}
			}
			if cps != 1 || workers != tt.workers+1 || loadgen != 1 {
				t.Errorf("control-planes %d workers %d loadgen %d; want 1, %d, 1", cps, workers, loadgen, tt.workers+1)
			}
		})
	}
}

func TestKongSPIFFEID(t *testing.T) {
	if got, want := KongSPIFFEID(""), "spiffe://cluster.local/ns/kong/sa/kong-gateway"; got != want {
		t.Errorf("KongSPIFFEID() = %q, want %q", got, want)
	}
	if got := KongSPIFFEID("example.org"); got != "spiffe://example.org/ns/kong/sa/kong-gateway" {
		t.Errorf("trust domain ignored: %q", got)
	}
}
