// Package addons installs what runs in the cluster besides the fixtures: the
// Gateway API CRDs, Kong, Kuma and Istio, with the Helm v4 SDK, at the versions
// of one matrix file. Each installer is a cluster.Step.
package addons

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/strvals"
	"sigs.k8s.io/yaml"
)

//go:embed versions.yaml
var defaultMatrix []byte

// Chart keys in Matrix.Charts.
const (
	ChartKong      = "kong"
	ChartKuma      = "kuma"
	ChartIstioBase = "istio-base"
	ChartIstiod    = "istiod"
	ChartIstioCNI  = "istio-cni"
	ChartZtunnel   = "ztunnel"
)

// chartKeys are the keys of Matrix.Charts, in install order.
var chartKeys = []string{ChartKong, ChartKuma, ChartIstioBase, ChartIstiod, ChartIstioCNI, ChartZtunnel}

// Image keys in Matrix.Images.
const (
	ImageKong           = "kong"
	ImageKongController = "kong-controller"
	ImageKumaCP         = "kuma-cp"
	ImageKumaDP         = "kuma-dp"
	ImageKumaInit       = "kuma-init"
	ImageKumaCNI        = "kuma-cni"
	ImageIstioPilot     = "istio-pilot"
	ImageIstioProxy     = "istio-proxy"
	ImageIstioCNI       = "istio-install-cni"
	ImageZtunnel        = "istio-ztunnel"
)

// imageKeys are the keys of Matrix.Images, in the order versions.yaml has them.
var imageKeys = []string{ImageKong, ImageKongController, ImageKumaCP, ImageKumaDP, ImageKumaInit, ImageKumaCNI,
	ImageIstioPilot, ImageIstioProxy, ImageIstioCNI, ImageZtunnel}

// Matrix is every version one run uses. Load it with DefaultMatrix or
// LoadMatrix, change it with Set, check it with Validate.
type Matrix struct {
	Kind       KindVersions      `json:"kind"`
	GatewayAPI GatewayAPIVersion `json:"gatewayAPI"`
	Charts     map[string]Chart  `json:"charts"`
	Images     map[string]string `json:"images"`
}

// KindVersions pins the kind node image (by digest).
type KindVersions struct {
	NodeImage string `json:"nodeImage"`
}

// GatewayAPIVersion names the embedded Gateway API CRDs; it is checked, not
// chosen: the CRDs come from the sigs.k8s.io/gateway-api module in go.mod.
type GatewayAPIVersion struct {
	Version string `json:"version"`
	Channel string `json:"channel"`
}

// Chart is where one Helm chart comes from. Path (a local directory or .tgz)
// wins over Repo/Name/Version. Values are merged over meshgate's own values.
type Chart struct {
	Repo    string         `json:"repo,omitempty"`
	Name    string         `json:"name,omitempty"`
	Version string         `json:"version,omitempty"`
	Path    string         `json:"path,omitempty"`
	Values  map[string]any `json:"values,omitempty"`
}

// Source says where the chart is read from, for plans and errors.
func (c Chart) Source() string {
	if c.Path != "" {
		return c.Path
	}
	return fmt.Sprintf("%s %s from %s", c.Name, c.Version, c.Repo)
}

// DefaultMatrix is the embedded versions.yaml.
func DefaultMatrix() (Matrix, error) {
	return parseMatrix("embedded versions.yaml", defaultMatrix, nil)
}

// LoadMatrix reads the embedded matrix, then overlays file (if not empty):
// fields the file leaves out keep their embedded values.
func LoadMatrix(file string) (Matrix, error) {
	if file == "" {
		return DefaultMatrix()
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return Matrix{}, fmt.Errorf("version matrix %s: %w", file, err)
	}
	return parseMatrix(file, defaultMatrix, data)
}

func parseMatrix(name string, base, overlay []byte) (Matrix, error) {
	var m map[string]any
	if err := yaml.Unmarshal(base, &m); err != nil {
		return Matrix{}, fmt.Errorf("embedded versions.yaml: %w", err)
	}
	if overlay != nil {
		var o map[string]any
		if err := yaml.Unmarshal(overlay, &o); err != nil {
			return Matrix{}, fmt.Errorf("version matrix %s is not YAML: %w", name, err)
		}
		m = mergeMaps(m, o)
	}
	return fromMap(name, m)
}

func fromMap(name string, m map[string]any) (Matrix, error) {
	raw, err := yaml.Marshal(m)
	if err != nil {
		return Matrix{}, err
	}
	var out Matrix
	if err := yaml.UnmarshalStrict(raw, &out); err != nil {
		return Matrix{}, fmt.Errorf("version matrix %s: %w (valid keys: kind.nodeImage, gatewayAPI.{version,channel}, charts.{%s}.{repo,name,version,path,values}, images.{%s})", name, err, strings.Join(chartKeys, ","), strings.Join(imageKeys, ","))
	}
	if err := out.Validate(); err != nil {
		return Matrix{}, fmt.Errorf("%w (after %s)", err, name)
	}
	return out, nil
}

// Set applies key=value overrides, Helm --set syntax, for example
// "images.kong=kong:3.10" or "charts.kong.values.gateway.replicaCount=2".
func (m Matrix) Set(overrides ...string) (Matrix, error) {
	if len(overrides) == 0 {
		return m, nil
	}
	raw, err := yaml.Marshal(m)
	if err != nil {
		return m, err
	}
	var asMap map[string]any
	if err := yaml.Unmarshal(raw, &asMap); err != nil {
		return m, err
	}
	for _, o := range overrides {
		if !strings.Contains(o, "=") {
			return m, fmt.Errorf("--set %q: want key=value, for example images.kong=kong:3.10", o)
		}
		if err := strvals.ParseInto(o, asMap); err != nil {
			return m, fmt.Errorf("--set %q: %w", o, err)
		}
	}
	return fromMap("--set", asMap)
}

// Validate names every missing or inconsistent entry at once.
func (m Matrix) Validate() error {
	var errs []error
	if m.Kind.NodeImage == "" {
		errs = append(errs, errors.New("kind.nodeImage is empty; set a kindest/node image, pinned by digest"))
	} else if !strings.Contains(m.Kind.NodeImage, "@sha256:") {
		errs = append(errs, fmt.Errorf("kind.nodeImage %q is not pinned by digest; add @sha256:<digest> from the kind release notes", m.Kind.NodeImage))
	}
	if m.GatewayAPI.Version != gatewayAPIVersion {
		errs = append(errs, fmt.Errorf("gatewayAPI.version is %q but the embedded CRDs are %s (from go.mod); change go.mod and run go generate ./internal/addons", m.GatewayAPI.Version, gatewayAPIVersion))
	}
	if m.GatewayAPI.Channel != "standard" {
		errs = append(errs, fmt.Errorf("gatewayAPI.channel is %q; only the standard channel is embedded", m.GatewayAPI.Channel))
	}
	for _, key := range chartKeys {
		c, ok := m.Charts[key]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("charts.%s is missing", key))
		case c.Path == "" && (c.Repo == "" || c.Name == "" || c.Version == ""):
			errs = append(errs, fmt.Errorf("charts.%s needs repo, name and version, or a local path (directory or .tgz)", key))
		}
	}
	for _, key := range sortedKeys(m.Charts) {
		if !slices.Contains(chartKeys, key) {
			errs = append(errs, fmt.Errorf("charts.%s is not a chart meshgate installs (known: %s)", key, strings.Join(chartKeys, ", ")))
		}
	}
	for _, key := range sortedKeys(m.Images) {
		if !slices.Contains(imageKeys, key) {
			errs = append(errs, fmt.Errorf("images.%s is not an image meshgate installs (known: %s)", key, strings.Join(imageKeys, ", ")))
		}
	}
	for _, key := range imageKeys {
		ref := m.Images[key]
		if ref == "" {
			errs = append(errs, fmt.Errorf("images.%s is missing", key))
			continue
		}
		if _, _, err := splitImage(ref); err != nil {
			errs = append(errs, fmt.Errorf("images.%s: %w", key, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("version matrix: %w", err)
	}
	return nil
}

// splitImage splits "repo/name:tag" (an optional @digest kept with the tag).
func splitImage(ref string) (repo, tag string, err error) {
	name := ref
	digest := ""
	if i := strings.Index(name, "@"); i >= 0 {
		name, digest = name[:i], name[i:]
	}
	i := strings.LastIndex(name, ":")
	if i < 0 || strings.Contains(name[i:], "/") {
		return "", "", fmt.Errorf("image %q has no tag; write repository:tag", ref)
	}
	return name[:i], name[i+1:] + digest, nil
}

// mergeMaps overlays b on a, recursively for maps; b's scalars and lists win.
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
