package kubetest

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ChartsDirEnv names the folder holding the pinned upstream charts as
// packaged .tgz files (see the Chart* constants). Tests that render or
// install them skip, naming this variable, when it is unset.
const ChartsDirEnv = "MESHGATE_CHARTS_DIR"

// The pinned chart files in $MESHGATE_CHARTS_DIR. Istio's are the newest
// Istio source tag obtainable beside CI (1.31.0-rc.0); the version matrix
// pins 1.31.1 for users.
const (
	KongChartFile      = "ingress-0.24.0.tgz" // with its kong 3.2.0 subcharts
	KumaChartFile      = "kuma-" + KumaVersion + ".tgz"
	IstioBaseChartFile = "istio-base-1.31.0-rc.0.tgz"
	IstiodChartFile    = "istiod-1.31.0-rc.0.tgz"
	// KongSubchartVersion is the kong chart the ingress chart bundles (its
	// crds/ are the Kong CRDs a run installs).
	KongSubchartVersion = "3.2.0"
)

// ChartPath returns the path of a pinned chart file, a reason to skip when
// MESHGATE_CHARTS_DIR is unset, or an error when it is set but lacks file.
func ChartPath(file string) (p, skip string, err error) {
	dir := os.Getenv(ChartsDirEnv)
	if dir == "" {
		return "", ChartsDirEnv + " is unset: point it at a folder holding " + file + " (the pinned upstream chart)", nil
	}
	p = filepath.Join(dir, file)
	if _, err := os.Stat(p); err != nil {
		return "", "", fmt.Errorf("%s=%s: %w", ChartsDirEnv, dir, err)
	}
	return p, "", nil
}

// ChartOverrides returns the version-matrix overrides that read every chart
// meshgate installs from $MESHGATE_CHARTS_DIR ("charts.<key>.path=<file>",
// keys as in internal/addons/versions.yaml), or a reason to skip.
func ChartOverrides() (sets []string, skip string, err error) {
	for _, kf := range [][2]string{{"kong", KongChartFile}, {"kuma", KumaChartFile}, {"istio-base", IstioBaseChartFile}, {"istiod", IstiodChartFile}} {
		p, skip, err := ChartPath(kf[1])
		if skip != "" || err != nil {
			return nil, skip, err
		}
		sets = append(sets, "charts."+kf[0]+".path="+p)
	}
	return sets, "", nil
}

// chartCRDs extracts the crds/ folders of a packaged chart (its own and its
// subcharts') into a folder under the system temp dir named after the
// chart's content, reused by later tests, and returns that folder.
func chartCRDs(tgz string) (string, error) {
	data, err := os.ReadFile(tgz)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	dir := filepath.Join(os.TempDir(), "meshgate-chart-crds-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(os.TempDir(), ".meshgate-chart-crds-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	n, err := extractCRDs(tgz, tmp)
	if err != nil {
		return "", fmt.Errorf("CRDs of chart %s: %w", tgz, err)
	}
	if n == 0 {
		return "", fmt.Errorf("chart %s has no crds/ folder", tgz)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another test binary may have extracted the same chart first.
		if _, statErr := os.Stat(dir); statErr != nil {
			return "", err
		}
	}
	return dir, nil
}

// extractCRDs writes every YAML file under a crds/ folder of the archive into
// dir, flattened (chart and subchart name in the file name), and counts them.
func extractCRDs(tgz, dir string) (int, error) {
	f, err := os.Open(tgz)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return 0, err
	}
	tr := tar.NewReader(gz)
	n := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		name := path.Clean(h.Name)
		if h.Typeflag != tar.TypeReg || path.Base(path.Dir(name)) != "crds" || (path.Ext(name) != ".yaml" && path.Ext(name) != ".yml") {
			continue
		}
		out := filepath.Join(dir, strings.ReplaceAll(name, "/", "_"))
		if err := writeFrom(out, tr); err != nil {
			return n, err
		}
		n++
	}
}

func writeFrom(p string, r io.Reader) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
