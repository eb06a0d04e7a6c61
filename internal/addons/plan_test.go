package addons

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/cluster"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestPlanGolden(t *testing.T) {
	for _, mesh := range []string{cluster.MeshKuma, cluster.MeshIstio} {
		t.Run(mesh, func(t *testing.T) {
			m := testMatrix(t)
			// The mini chart stands in for the kuma chart so one release renders
			// offline; the others stay unrendered, with the reason.
			m, err := m.Set("charts.kuma.path=" + miniChart)
			if err != nil {
				t.Fatal(err)
			}
			p, err := MakePlan(context.Background(), m, PlanOptions{
				Options:    Options{Mesh: mesh, Kind: true},
				Provider:   cluster.ProviderKind,
				KindConfig: &cluster.KindConfig{Name: "meshgate-<run id>", NodeImage: m.Kind.NodeImage, Workers: 2, ProxyHostPort: 30080, ProxyTLSHostPort: 30443},
				Offline:    true,
				CacheDir:   t.TempDir(),
				Extra:      []Manifest{{Name: "fixture set test/extra", YAML: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := p.Write(&out, false); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "plan-"+mesh+".golden")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -update creates it)", err)
			}
			if out.String() != string(want) {
				t.Errorf("plan differs from %s (go test -update rewrites it):\n%s", golden, out.String())
			}
			for _, must := range []string{"kindest/node:v1.37.0@sha256:", "ingress 0.24.0", "kong:3.9", "meshgate/echo:dev", "gateways.gateway.networking.k8s.io", "fixture set test/extra", "not rendered: not in the Helm cache"} {
				if !strings.Contains(out.String(), must) {
					t.Errorf("plan lacks %q", must)
				}
			}
		})
	}
}

func TestPlanFullPrintsRenderedCharts(t *testing.T) {
	m, err := testMatrix(t).Set("charts.kong.path=" + miniChart)
	if err != nil {
		t.Fatal(err)
	}
	p, err := MakePlan(context.Background(), m, PlanOptions{Options: Options{Mesh: cluster.MeshIstio}, Provider: cluster.ProviderExisting, Offline: true, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := p.Write(&out, true); err != nil {
		t.Fatal(err)
	}
	for _, must := range []string{"rendered manifest:", "kind: Deployment", "name: kong-mini", "kind: CustomResourceDefinition\nmetadata:\n  annotations:"} {
		if !strings.Contains(out.String(), must) {
			t.Errorf("full plan lacks %q", must)
		}
	}
	if strings.Contains(out.String(), "## kind cluster") {
		t.Error("existing-cluster plan prints a kind config")
	}
}
