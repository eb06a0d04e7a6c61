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
	"github.com/meshgate/meshgate/internal/kubetest"
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

// The chart defaults the plan names are really in the pinned upstream
// charts as meshgate renders them, and a values override that removes one
// shows up as missing.
func TestPlanChartDefaultsInPinnedCharts(t *testing.T) {
	pinned, skip, err := kubetest.ChartOverrides()
	if skip != "" {
		t.Skip(skip)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mesh    string
		set     []string
		missing string // What of the one default that must be missing, or ""
	}{
		{cluster.MeshKuma, nil, ""},
		{cluster.MeshIstio, nil, ""},
		{cluster.MeshKuma, []string{`charts.kong.values.gateway.podAnnotations.kuma\.io/gateway=null`}, "kuma.io/gateway: enabled"},
	} {
		t.Run(tc.mesh+strings.Join(tc.set, ","), func(t *testing.T) {
			m, err := testMatrix(t).Set(append(pinned, tc.set...)...)
			if err != nil {
				t.Fatal(err)
			}
			p, err := MakePlan(t.Context(), m, PlanOptions{Options: Options{Mesh: tc.mesh, Kind: true}, Provider: cluster.ProviderKind, Offline: true, CacheDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Defaults) == 0 {
				t.Fatal("the plan names no chart defaults")
			}
			for _, d := range p.Defaults {
				wantMissing := tc.missing != "" && strings.Contains(d.What, tc.missing)
				if gotMissing := d.Status != "present in the rendered chart"; gotMissing != wantMissing {
					t.Errorf("%s chart, %s: %s", d.Chart, d.What, d.Status)
				}
			}
			var out bytes.Buffer
			if err := p.Write(&out, false); err != nil {
				t.Fatal(err)
			}
			for _, d := range p.Defaults {
				if !strings.Contains(out.String(), d.What) || !strings.Contains(out.String(), "source: "+d.Source) {
					t.Errorf("plan does not name %q with its source", d.What)
				}
			}
		})
	}
}
