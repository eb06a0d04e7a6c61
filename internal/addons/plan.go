package addons

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/internal/cluster"
)

// Manifest is one named YAML document set the run applies.
type Manifest struct {
	Name string // e.g. "gateway-api/gateway.networking.k8s.io_gateways.yaml"
	YAML string
}

// PlanRelease is one chart of the plan: where it comes from, its values and,
// when the chart could be read without network, its rendered manifest.
type PlanRelease struct {
	Release
	Rendered    string
	NotRendered string // why Rendered is empty
}

// PlanDefault is a chart default the scenarios rely on, and whether the
// rendered chart shows it.
type PlanDefault struct {
	ChartDefault
	Status string
}

// Plan is everything a run would install, with no cluster needed.
type Plan struct {
	Mesh       string
	Provider   string
	KindConfig string // YAML, kind provider only
	NodeImage  string
	Releases   []PlanRelease
	Defaults   []PlanDefault
	Images     []string
	Manifests  []Manifest
}

// PlanOptions control what Plan reads.
type PlanOptions struct {
	Options
	Provider    string
	KindConfig  *cluster.KindConfig
	KubeVersion string // for rendering; default from the node image
	// Offline renders only charts with a local path or already in the Helm
	// cache; others are listed with their values and the reason.
	Offline  bool
	CacheDir string
	// Extra are manifests from outside addons (the fixtures of the scenarios).
	Extra []Manifest
}

// MakePlan renders the plan. It never contacts a cluster; with Offline it
// never contacts a chart repository either.
func MakePlan(ctx context.Context, m Matrix, o PlanOptions) (*Plan, error) {
	rels, err := Releases(m, o.Options)
	if err != nil {
		return nil, err
	}
	p := &Plan{Mesh: o.Mesh, Provider: o.Provider, NodeImage: m.Kind.NodeImage, Images: UpstreamImages(m, o.Mesh, o.ImageMirror)}
	p.Images = append(p.Images, fixtures.EchoImage+" (built from ./fixtures/apps/echo)", fixtures.LoadgenImage+" (built from ./fixtures/apps/loadgen)")
	if o.KindConfig != nil {
		y, err := o.KindConfig.YAML()
		if err != nil {
			return nil, err
		}
		p.KindConfig = string(y)
	}
	kv := o.KubeVersion
	if kv == "" {
		kv = KubeVersionOf(m.Kind.NodeImage)
	}
	cache := o.CacheDir
	if cache == "" {
		cache = HelmCacheDir()
	}
	for _, r := range rels {
		pr := PlanRelease{Release: r}
		c := r.Chart
		if o.Offline && c.Path == "" {
			if cached := CachedChart(cache, c); cached != "" {
				c.Path = cached
			}
		}
		if o.Offline && c.Path == "" {
			pr.NotRendered = fmt.Sprintf("not in the Helm cache and no charts.%s.path set; run `meshgate plan --online` or point charts.%s.path at the chart", r.Key, r.Key)
		} else if ch, err := LoadChart(c, cache); err != nil {
			pr.NotRendered = err.Error()
		} else if out, err := Render(ctx, r, ch, kv); err != nil {
			pr.NotRendered = err.Error()
		} else {
			pr.Rendered = out
		}
		p.Releases = append(p.Releases, pr)
	}
	p.Defaults = checkDefaults(o.Mesh, p.Releases)
	crds, err := GatewayAPICRDs()
	if err != nil {
		return nil, err
	}
	for _, crd := range crds {
		y, err := yaml.Marshal(crd.Object)
		if err != nil {
			return nil, err
		}
		p.Manifests = append(p.Manifests, Manifest{Name: "gateway-api " + m.GatewayAPI.Version + " CRD " + crd.GetName(), YAML: string(y)})
	}
	ns := fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels:\n", cluster.KongNamespace)
	labels := KongNamespaceLabels(o.Mesh, "<run id>")
	for _, k := range sortedKeys(labels) {
		ns += fmt.Sprintf("    %s: %q\n", k, labels[k])
	}
	p.Manifests = append(p.Manifests, Manifest{Name: "Kong namespace", YAML: ns})
	p.Manifests = append(p.Manifests, o.Extra...)
	return p, nil
}

// checkDefaults looks for each chart default the mesh's scenarios rely on
// in its rendered release.
func checkDefaults(mesh string, rels []PlanRelease) []PlanDefault {
	var out []PlanDefault
	for _, d := range ChartDefaults(mesh) {
		status := "not checked: the chart is not rendered"
		for _, r := range rels {
			if r.Key != d.Chart || r.Rendered == "" {
				continue
			}
			if err := d.Check(r.Rendered); err != nil {
				status = "MISSING from the rendered chart: " + err.Error()
			} else {
				status = "present in the rendered chart"
			}
		}
		out = append(out, PlanDefault{ChartDefault: d, Status: status})
	}
	return out
}

// UpstreamImages are the images a topology pulls, mirror applied, sorted.
func UpstreamImages(m Matrix, mesh, mirror string) []string {
	keys := []string{ImageKong, ImageKongController}
	switch mesh {
	case cluster.MeshKuma:
		keys = append(keys, ImageKumaCP, ImageKumaDP, ImageKumaInit, ImageKumaCNI)
	case cluster.MeshIstio:
		keys = append(keys, ImageIstioPilot, ImageIstioProxy)
	case cluster.MeshIstioAmbient:
		// proxyv2 runs the waypoints.
		keys = append(keys, ImageIstioPilot, ImageIstioProxy, ImageIstioCNI, ImageZtunnel)
	}
	var out []string
	for _, k := range keys {
		out = append(out, Mirror(mirror, m.Images[k]))
	}
	sort.Strings(out)
	return out
}

// KubeVersionOf reads "v1.37.0" out of "kindest/node:v1.37.0@sha256:...".
func KubeVersionOf(nodeImage string) string {
	_, tag, err := splitImage(nodeImage)
	if err != nil {
		return ""
	}
	tag, _, _ = strings.Cut(tag, "@")
	return tag
}

// Write prints the plan for people: sections, then YAML.
func (p *Plan) Write(w io.Writer, full bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# meshgate plan: mesh %s, provider %s\n\n", p.Mesh, p.Provider)
	if p.KindConfig != "" {
		fmt.Fprintf(&b, "## kind cluster (node image %s)\n\n%s\n", p.NodeImage, p.KindConfig)
	}
	b.WriteString("## Helm releases (in install order)\n\n")
	for _, r := range p.Releases {
		fmt.Fprintf(&b, "### %s/%s: %s\n\nvalues:\n", r.Namespace, r.Name, r.Chart.Source())
		y, err := yaml.Marshal(r.Values)
		if err != nil {
			return err
		}
		b.WriteString(indent(string(y), "  "))
		switch {
		case r.Rendered != "" && full:
			fmt.Fprintf(&b, "\nrendered manifest:\n%s\n", r.Rendered)
		case r.Rendered != "":
			fmt.Fprintf(&b, "\nrendered: %d objects (--full prints them)\n", strings.Count(r.Rendered, "\nkind: ")+boolInt(strings.HasPrefix(r.Rendered, "kind: ")))
		default:
			fmt.Fprintf(&b, "\nnot rendered: %s\n", r.NotRendered)
		}
		b.WriteString("\n")
	}
	if len(p.Defaults) > 0 {
		b.WriteString("## Chart defaults the scenarios rely on (meshgate does not set them)\n\n")
		for _, d := range p.Defaults {
			fmt.Fprintf(&b, "- %s chart: %s.\n  source: %s\n  why: %s\n  %s\n", d.Chart, d.What, d.Source, d.Why, d.Status)
		}
		b.WriteString("\n")
	}
	b.WriteString("## Images\n\n")
	for _, img := range p.Images {
		fmt.Fprintf(&b, "- %s\n", img)
	}
	b.WriteString("\n## Manifests meshgate applies\n\n")
	for _, m := range p.Manifests {
		if full || len(m.YAML) < 2048 {
			fmt.Fprintf(&b, "### %s\n\n%s\n", m.Name, strings.TrimRight(m.YAML, "\n"))
			b.WriteString("\n")
		} else {
			fmt.Fprintf(&b, "- %s (%d bytes; --full prints it)\n", m.Name, len(m.YAML))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = pre + l
	}
	return strings.Join(lines, "\n") + "\n"
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
