package addons

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/meshgate/meshgate/internal/cluster"
)

// Release is one chart installed under one name, with meshgate's values.
type Release struct {
	Key       string // chart key in the matrix (ChartKong, ...)
	Name      string // Helm release name
	Namespace string
	Chart     Chart
	Values    map[string]any // meshgate's values merged with Chart.Values
	Timeout   time.Duration
}

// helmSettings keeps Helm's caches inside the run folder's parent cache so
// meshgate never touches the user's Helm configuration.
func helmSettings(cacheDir string) *cli.EnvSettings {
	s := cli.New()
	if cacheDir != "" {
		s.RepositoryCache = filepath.Join(cacheDir, "repository")
		s.RepositoryConfig = filepath.Join(cacheDir, "repositories.yaml")
		s.RegistryConfig = filepath.Join(cacheDir, "registry.json")
	}
	return s
}

// HelmCacheDir is where charts pulled from repositories are kept between runs.
func HelmCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "meshgate", "helm")
}

// LoadChart reads a chart from its local path (directory or .tgz), or pulls
// it from its repository (http(s):// index or oci://) into the cache.
func LoadChart(c Chart, cacheDir string) (*chart.Chart, error) {
	if c.Path != "" {
		ch, err := loader.Load(c.Path)
		if err != nil {
			return nil, fmt.Errorf("chart at %s: %w (a chart directory with Chart.yaml, or a .tgz from helm package / helm pull)", c.Path, err)
		}
		return ch, nil
	}
	settings := helmSettings(cacheDir)
	rc, err := registry.NewClient(registry.ClientOptCredentialsFile(settings.RegistryConfig))
	if err != nil {
		return nil, err
	}
	inst := action.NewInstall(&action.Configuration{})
	inst.SetRegistryClient(rc)
	inst.Version = c.Version
	name := c.Name
	if strings.HasPrefix(c.Repo, "oci://") {
		name = strings.TrimSuffix(c.Repo, "/") + "/" + c.Name
	} else {
		inst.RepoURL = c.Repo
	}
	path, err := inst.LocateChart(name, settings)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w; without network, download it elsewhere (helm pull) and set charts.<key>.path to the .tgz", c.Source(), err)
	}
	ch, err := loader.Load(path)
	if err != nil {
		return nil, fmt.Errorf("chart %s (cached at %s): %w", c.Source(), path, err)
	}
	if c.Version != "" && ch.Metadata.Version != c.Version {
		return nil, fmt.Errorf("chart %s: got version %s", c.Source(), ch.Metadata.Version)
	}
	return ch, nil
}

// Render returns what Helm would apply for r with no cluster: the chart's
// CRDs followed by its manifest and hooks, at the given Kubernetes version.
func Render(ctx context.Context, r Release, ch *chart.Chart, kubeVersion string) (string, error) {
	inst := action.NewInstall(&action.Configuration{})
	inst.ClientOnly, inst.DryRun, inst.Replace, inst.IncludeCRDs = true, true, true, true
	inst.ReleaseName, inst.Namespace = r.Name, r.Namespace
	if kubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(kubeVersion)
		if err != nil {
			return "", err
		}
		inst.KubeVersion = kv
	}
	rel, err := inst.RunWithContext(ctx, ch, copyValues(r.Values))
	if err != nil {
		return "", fmt.Errorf("render chart %s as release %s/%s: %w", r.Chart.Source(), r.Namespace, r.Name, err)
	}
	var b strings.Builder
	b.WriteString(rel.Manifest)
	for _, h := range rel.Hooks {
		fmt.Fprintf(&b, "\n---\n# Source: %s (hook %v)\n%s\n", h.Path, h.Events, h.Manifest)
	}
	return b.String(), nil
}

// Helm installs and upgrades releases on one cluster.
type Helm struct {
	getter   genericclioptions.RESTClientGetter
	cacheDir string
	log      *slog.Logger
	labels   map[string]string // on every release's storage Secret
	runID    string
}

// NewHelm drives Helm against env's kubeconfig and context.
func NewHelm(env *cluster.Env) *Helm {
	kubeconfig, kctx := env.KubeconfigPath, env.KubeContext
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &kubeconfig
	flags.Context = &kctx
	return &Helm{
		getter:   flags,
		cacheDir: HelmCacheDir(),
		log:      env.Logger(),
		labels:   map[string]string{"meshgate.io/run": env.RunID},
		runID:    env.RunID,
	}
}

func (h *Helm) config(namespace string) (*action.Configuration, error) {
	cfg := new(action.Configuration)
	debug := func(format string, v ...any) { h.log.Debug(fmt.Sprintf(format, v...), "from", "helm") }
	ns := namespace
	flags, ok := h.getter.(*genericclioptions.ConfigFlags)
	if ok {
		flags.Namespace = &ns
	}
	if err := cfg.Init(h.getter, namespace, "secret", debug); err != nil {
		return nil, fmt.Errorf("helm on namespace %s: %w", namespace, err)
	}
	return cfg, nil
}

// Apply installs r, or upgrades it when a release of that name exists;
// atomic (rolled back on failure) and waiting for its workloads. installed
// is true when this call created the release.
func (h *Helm) Apply(ctx context.Context, r Release) (installed bool, err error) {
	ch, err := LoadChart(r.Chart, h.cacheDir)
	if err != nil {
		return false, err
	}
	cfg, err := h.config(r.Namespace)
	if err != nil {
		return false, err
	}
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	start := time.Now()
	stopProgress := h.progress(ctx, r, start)
	defer stopProgress()
	_, err = action.NewHistory(cfg).Run(r.Name)
	switch {
	case errors.Is(err, driver.ErrReleaseNotFound):
		inst := action.NewInstall(cfg)
		inst.ReleaseName, inst.Namespace, inst.CreateNamespace = r.Name, r.Namespace, true
		inst.Atomic, inst.Wait, inst.Timeout, inst.Labels = true, true, timeout, h.labels
		inst.PostRenderer = runLabeler{runID: h.runID}
		h.log.Info("helm install", "release", r.Namespace+"/"+r.Name, "chart", r.Chart.Source())
		installed = true
		_, err = inst.RunWithContext(ctx, ch, copyValues(r.Values))
	case err != nil:
		return false, fmt.Errorf("helm history of %s/%s: %w", r.Namespace, r.Name, err)
	default:
		up := action.NewUpgrade(cfg)
		up.Namespace, up.Atomic, up.Wait, up.Timeout, up.Labels = r.Namespace, true, true, timeout, h.labels
		up.PostRenderer = runLabeler{runID: h.runID}
		h.log.Info("helm upgrade", "release", r.Namespace+"/"+r.Name, "chart", r.Chart.Source())
		_, err = up.RunWithContext(ctx, r.Name, ch, copyValues(r.Values))
	}
	if err != nil {
		return false, fmt.Errorf("helm release %s/%s from %s (after %s): %w", r.Namespace, r.Name, r.Chart.Source(), time.Since(start).Round(time.Second), err)
	}
	h.log.Info("helm release ready", "release", r.Namespace+"/"+r.Name, "elapsed", time.Since(start).Round(time.Second))
	return installed, nil
}

// Uninstall removes a release; a release that is not there is not an error.
func (h *Helm) Uninstall(ctx context.Context, namespace, name string) error {
	cfg, err := h.config(namespace)
	if err != nil {
		return err
	}
	u := action.NewUninstall(cfg)
	u.Wait, u.Timeout, u.IgnoreNotFound = true, 3*time.Minute, true
	if _, err := u.Run(name); err != nil {
		return fmt.Errorf("helm uninstall %s/%s: %w", namespace, name, err)
	}
	return nil
}

// copyValues deep-copies through Helm's own helper, since Helm mutates the
// map it is given.
func copyValues(v map[string]any) map[string]any {
	if v == nil {
		return map[string]any{}
	}
	out, err := chartutil.ReadValues(mustYAML(v))
	if err != nil {
		return v
	}
	return out
}

// CachedChart is the path of c's .tgz in the Helm repository cache, or "".
func CachedChart(cacheDir string, c Chart) string {
	if c.Name == "" || c.Version == "" {
		return ""
	}
	p := filepath.Join(cacheDir, "repository", c.Name+"-"+c.Version+".tgz")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// progress logs, while Helm waits for a release's workloads, a line with the
// elapsed time every 15 seconds.
func (h *Helm) progress(ctx context.Context, r Release, start time.Time) func() {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(15 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				h.log.Info("waiting", "what", "helm release "+r.Namespace+"/"+r.Name, "elapsed", time.Since(start).Round(time.Second), "limit", r.Timeout)
			}
		}
	}()
	return func() { close(done) }
}
