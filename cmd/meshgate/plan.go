package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/internal/addons"
	"github.com/meshgate/meshgate/internal/cluster"
)

func newPlanCmd(a *app) *cobra.Command {
	var f clusterFlags
	var full, online, existing bool
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Print every chart, version, value, image and manifest a run would use",
		Long: `plan prints, with no cluster and no network, what meshgate up and e2e would
install: the kind configuration, each Helm release with its chart source,
version and values (rendered to objects when the chart is local: a
charts.<key>.path or the Helm cache), every image, and the manifests meshgate
applies itself (Gateway API CRDs, Kong's namespace, the scenarios' fixtures).`,
		Example: "  meshgate plan --mesh kuma\n  meshgate plan --mesh istio --full --set charts.istiod.path=./istiod-1.31.1.tgz",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(cluster.Meshes, f.mesh) {
				return &exitError{code: exitUsage, err: fmt.Errorf("--mesh %q: choose one of %s", f.mesh, strings.Join(cluster.Meshes, ", "))}
			}
			m, err := f.matrix()
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if f.proxyServiceType != "" && !existing {
				return &exitError{code: exitUsage, err: fmt.Errorf("--proxy-service-type applies with --existing; on kind Kong's proxy is a NodePort")}
			}
			po := addons.PlanOptions{
				Options:  addons.Options{Mesh: f.mesh, Kind: !existing, ImageMirror: f.imageMirror, ProxyServiceType: f.proxyServiceType},
				Provider: cluster.ProviderKind,
				Offline:  !online,
			}
			if existing {
				po.Provider = cluster.ProviderExisting
			} else {
				po.KindConfig = &cluster.KindConfig{Name: "meshgate-<run id>", NodeImage: m.Kind.NodeImage, Workers: 2,
					ProxyHostPort: cluster.KongProxyNodePort, ProxyTLSHostPort: cluster.KongProxyTLSNodePort}
			}
			extra, note, err := fixtureManifests(f.mesh)
			if err != nil {
				return err
			}
			po.Extra = extra
			p, err := addons.MakePlan(cmd.Context(), *m, po)
			if err != nil {
				return err
			}
			if err := p.Write(a.stdout, full); err != nil {
				return err
			}
			if note != "" {
				fmt.Fprintf(a.stdout, "\nnote: %s\n", note)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.mesh, "mesh", "", "kuma, istio or istio-ambient")
	f.registerVersions(fs)
	fs.BoolVar(&full, "full", false, "print rendered charts and long manifests in full")
	fs.BoolVar(&online, "online", false, "pull charts from their repositories to render them (default: only local or cached charts)")
	fs.BoolVar(&existing, "existing", false, "plan for an existing cluster (no kind config, proxy ClusterIP, Kuma without CNI)")
	fs.StringVar(&f.proxyServiceType, "proxy-service-type", "", "with --existing: Kong's proxy Service type, ClusterIP (default) or LoadBalancer")
	return cmd
}

// fixtureManifests renders the fixture sets of a mesh's scenarios for the
// plan. The fixture packages (fixtures/kuma, fixtures/istio, ...) register
// here through fixtureSets.
func fixtureManifests(mesh string) ([]addons.Manifest, string, error) {
	sets, err := fixtureSets(mesh)
	if err != nil {
		return nil, "", err
	}
	if len(sets) == 0 {
		return nil, "no fixture sets are wired into plan in this build (cmd/meshgate/plan_fixtures.go: fixtureSets)", nil
	}
	var out []addons.Manifest
	for _, s := range sets {
		doc, err := fixtures.ToYAML(s.Objects...)
		if err != nil {
			return nil, "", fmt.Errorf("fixture set %s: %w", s.Name, err)
		}
		name := "fixture set " + s.Name
		if s.Reproduction {
			name += " (reproduction: contains the boundary mistake on purpose)"
		}
		out = append(out, addons.Manifest{Name: name, YAML: string(doc)})
	}
	return out, "", nil
}
