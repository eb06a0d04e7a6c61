package kubetest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// A CRDSource names a set of CRD manifests and finds them on this machine.
type CRDSource struct {
	Name string
	// Resolve returns the CRD files or folders, or a reason to skip when they
	// are not available here, or an error when they should be but are broken.
	Resolve func() (paths []string, skip string, err error)
}

// CRDsDirEnv names the folder holding the Kuma and Kong CRDs (the same files
// their pinned charts install): kuma-2.14.3/*.yaml and
// kong-chart-3.4.1/custom-resource-definitions.yaml. ChartsDirEnv, when set,
// wins: the CRDs then come from the charts' own crds/ folders.
const CRDsDirEnv = "MESHGATE_CRDS_DIR"

// Versions of the CRD sources read from a folder or the module cache.
const (
	KumaVersion      = "2.14.3"
	KongChartVersion = "3.4.1"
	IstioAPIVersion  = "v1.31.1"
)

// GatewayAPI is the standard channel of the Gateway API module in go.mod.
func GatewayAPI() CRDSource {
	return CRDSource{Name: "gateway-api standard", Resolve: func() ([]string, string, error) {
		dir, err := goModDir("list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api")
		if err != nil {
			return nil, "", err
		}
		return existing(filepath.Join(dir, "config", "crd", "standard"))
	}}
}

// Istio is the CRD bundle of istio.io/api at IstioAPIVersion, fetched into the
// module cache by the go command (no go.mod entry needed).
func Istio() CRDSource {
	return CRDSource{Name: "istio " + IstioAPIVersion, Resolve: func() ([]string, string, error) {
		out, err := goCmd("mod", "download", "-json", "istio.io/api@"+IstioAPIVersion)
		if err != nil {
			return nil, "", err
		}
		var m struct{ Dir, Error string }
		if err := json.Unmarshal(out, &m); err != nil {
			return nil, "", fmt.Errorf("go mod download istio.io/api@%s: %w", IstioAPIVersion, err)
		}
		if m.Error != "" || m.Dir == "" {
			return nil, "", fmt.Errorf("go mod download istio.io/api@%s: %s", IstioAPIVersion, m.Error)
		}
		return existing(filepath.Join(m.Dir, "kubernetes", "customresourcedefinitions.gen.yaml"))
	}}
}

// Kuma is the Kuma CRDs: the crds/ folder of the pinned chart in
// $MESHGATE_CHARTS_DIR, or else $MESHGATE_CRDS_DIR/kuma-<KumaVersion>/.
func Kuma() CRDSource {
	return fromChartOrCRDsDir("kuma "+KumaVersion, KumaChartFile, "kuma-"+KumaVersion)
}

// Kong is the Kong CRDs: the crds/ folder of the kong subchart of the pinned
// ingress chart in $MESHGATE_CHARTS_DIR (kong chart KongSubchartVersion, the
// one a run installs), or else
// $MESHGATE_CRDS_DIR/kong-chart-<KongChartVersion>/custom-resource-definitions.yaml.
func Kong() CRDSource {
	name := "kong chart " + KongChartVersion
	if os.Getenv(ChartsDirEnv) != "" {
		name = "kong chart " + KongSubchartVersion
	}
	return fromChartOrCRDsDir(name, KongChartFile, filepath.Join("kong-chart-"+KongChartVersion, "custom-resource-definitions.yaml"))
}

// fromChartOrCRDsDir reads the CRDs from the chart file in
// $MESHGATE_CHARTS_DIR when that is set, else from rel in $MESHGATE_CRDS_DIR.
func fromChartOrCRDsDir(name, chartFile, rel string) CRDSource {
	return CRDSource{Name: name, Resolve: func() ([]string, string, error) {
		if os.Getenv(ChartsDirEnv) != "" {
			tgz, _, err := ChartPath(chartFile)
			if err != nil {
				return nil, "", err
			}
			dir, err := chartCRDs(tgz)
			if err != nil {
				return nil, "", err
			}
			return []string{dir}, "", nil
		}
		dir := os.Getenv(CRDsDirEnv)
		if dir == "" {
			return nil, ChartsDirEnv + " and " + CRDsDirEnv + " are unset: point " + ChartsDirEnv + " at a folder holding " + chartFile +
				" or " + CRDsDirEnv + " at one holding " + rel + " (the crds/ of the pinned chart)", nil
		}
		return existing(filepath.Join(dir, rel))
	}}
}

func existing(p string) ([]string, string, error) {
	if _, err := os.Stat(p); err != nil {
		return nil, "", fmt.Errorf("CRD path: %w", err)
	}
	return []string{p}, "", nil
}

func goModDir(args ...string) (string, error) {
	out, err := goCmd(args...)
	if err != nil {
		return "", err
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("go %s: %w (run `go mod download`)", strings.Join(args, " "), errNoDir)
	}
	return dir, nil
}

func goCmd(args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
