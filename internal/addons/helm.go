package addons

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/cli"
	"helm.sh/helm/v4/pkg/downloader"
	"helm.sh/helm/v4/pkg/getter"
	"helm.sh/helm/v4/pkg/kube"
	"helm.sh/helm/v4/pkg/postrenderer"
	"helm.sh/helm/v4/pkg/registry"
	helmrelease "helm.sh/helm/v4/pkg/release/v1"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
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
	// PostRenderer runs after meshgate's run labels (nil: none).
	PostRenderer postrenderer.PostRenderer
}

// helmSettings points every cache and configuration file Helm reads or
// writes into meshgate's own cache folder, so meshgate never touches the
// user's Helm configuration or cache.
func helmSettings(cacheDir string) *cli.EnvSettings {
	s := cli.New()
	s.RepositoryCache = filepath.Join(cacheDir, "repository")
	s.RepositoryConfig = filepath.Join(cacheDir, "repositories.yaml")
	s.RegistryConfig = filepath.Join(cacheDir, "registry.json")
	s.ContentCache = filepath.Join(cacheDir, "content")
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

// LoadChart reads a chart from its local path (directory or .tgz), from
// meshgate's chart cache, or pulls it from its repository (http(s):// index
// or oci://) into that cache.
func LoadChart(c Chart, cacheDir string) (*chart.Chart, error) {
	if c.Path != "" {
		ch, err := loader.Load(c.Path)
		if err != nil {
			return nil, fmt.Errorf("chart at %s: %w (a chart directory with Chart.yaml, or a .tgz from helm package / helm pull)", c.Path, err)
		}
		return ch, nil
	}
	path := CachedChart(cacheDir, c)
	if path == "" {
		var err error
		if path, err = pullChart(c, cacheDir); err != nil {
			return nil, fmt.Errorf("chart %s: %w; without network, download it elsewhere (helm pull) and set charts.<key>.path to the .tgz", c.Source(), err)
		}
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

// pullChart downloads c into cacheDir/charts/<name>-<version>.tgz and returns
// that path. Helm's own LocateChart is not used for repositories: it writes
// the repository index under the user's Helm cache (helm v4.3.2
// pkg/repo/v1/chartrepo.go FindChartInRepoURL uses helmpath.CachePath).
func pullChart(c Chart, cacheDir string) (string, error) {
	settings := helmSettings(cacheDir)
	rc, err := registry.NewClient(registry.ClientOptCredentialsFile(settings.RegistryConfig))
	if err != nil {
		return "", err
	}
	getters := getter.All(settings)
	url := strings.TrimSuffix(c.Repo, "/") + "/" + c.Name
	if !registry.IsOCI(c.Repo) {
		if url, err = chartURL(c, settings, getters); err != nil {
			return "", err
		}
	}
	dl := downloader.ChartDownloader{
		Out:              io.Discard,
		Getters:          getters,
		Options:          []getter.Option{getter.WithRegistryClient(rc)},
		RegistryClient:   rc,
		RepositoryConfig: settings.RepositoryConfig,
		RepositoryCache:  settings.RepositoryCache,
		ContentCache:     settings.ContentCache,
	}
	downloaded, _, err := dl.DownloadToCache(url, c.Version)
	if err != nil {
		return "", err
	}
	return keepChart(downloaded, cachedChartPath(cacheDir, c))
}

// chartURL reads the repository's index into meshgate's cache and returns the
// download URL of c's version.
func chartURL(c Chart, settings *cli.EnvSettings, getters getter.Providers) (string, error) {
	r, err := repo.NewChartRepository(&repo.Entry{Name: "meshgate-" + c.Name, URL: c.Repo}, getters)
	if err != nil {
		return "", err
	}
	r.CachePath = settings.RepositoryCache
	indexPath, err := r.DownloadIndexFile()
	if err != nil {
		return "", fmt.Errorf("repository %s unreachable or not a chart repository: %w", c.Repo, err)
	}
	index, err := repo.LoadIndexFile(indexPath)
	if err != nil {
		return "", err
	}
	version, err := index.Get(c.Name, c.Version)
	if err != nil {
		return "", fmt.Errorf("repository %s has no %s %s: %w", c.Repo, c.Name, c.Version, err)
	}
	if len(version.URLs) == 0 {
		return "", fmt.Errorf("repository %s lists %s %s without a download URL", c.Repo, c.Name, c.Version)
	}
	return repo.ResolveReferenceURL(c.Repo, version.URLs[0])
}

// keepChart copies a downloaded chart to its stable name in the cache
// (temp file + rename, so a half-written chart is never found there).
func keepChart(from, to string) (string, error) {
	data, err := os.ReadFile(from)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(to), ".chart-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return to, os.Rename(tmp.Name(), to)
}

// Render returns what Helm would apply for r with no cluster: the chart's
// CRDs followed by its manifest and hooks, at the given Kubernetes version.
// apiVersions ("group/version/Kind") are API versions the cluster serves
// beyond Helm's defaults, for templates gated on them the way a cluster's
// discovery would open them (.Capabilities.APIVersions.Has).
func Render(ctx context.Context, r Release, ch *chart.Chart, kubeVersion string, apiVersions ...string) (string, error) {
	inst := action.NewInstall(action.NewConfiguration())
	inst.DryRunStrategy, inst.Replace, inst.IncludeCRDs = action.DryRunClient, true, true
	inst.APIVersions = apiVersions
	inst.ReleaseName, inst.Namespace = r.Name, r.Namespace
	if kubeVersion != "" {
		kv, err := common.ParseKubeVersion(kubeVersion)
		if err != nil {
			return "", err
		}
		inst.KubeVersion = kv
	}
	out, err := inst.RunWithContext(ctx, ch, copyValues(r.Values))
	if err != nil {
		return "", fmt.Errorf("render chart %s as release %s/%s: %w", r.Chart.Source(), r.Namespace, r.Name, err)
	}
	rel, ok := out.(*helmrelease.Release)
	if !ok {
		return "", fmt.Errorf("render chart %s: Helm returned a %T, not a v1 release", r.Chart.Source(), out)
	}
	var b strings.Builder
	b.WriteString(rel.Manifest)
	for _, h := range rel.Hooks {
		fmt.Fprintf(&b, "\n---\n# Source: %s (hook %v)\n%s\n", h.Path, h.Events, h.Manifest)
	}
	return b.String(), nil
}

// waitStrategy is Helm 4's kstatus watcher: a release is ready when every
// object's status says so (Deployments available, Jobs complete, CRDs
// established), the same rule Helm's CLI applies with --wait.
const waitStrategy = kube.StatusWatcherStrategy

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
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(h.log.With("from", "helm").Handler()))
	ns := namespace
	flags, ok := h.getter.(*genericclioptions.ConfigFlags)
	if ok {
		flags.Namespace = &ns
	}
	if err := cfg.Init(h.getter, namespace, "secret"); err != nil {
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
		inst.RollbackOnFailure, inst.WaitStrategy, inst.Timeout, inst.Labels = true, waitStrategy, timeout, h.labels
		inst.PostRenderer = postRenderers(runLabeler{runID: h.runID}, r.PostRenderer)
		h.log.Info("helm install", "release", r.Namespace+"/"+r.Name, "chart", r.Chart.Source())
		installed = true
		_, err = inst.RunWithContext(ctx, ch, copyValues(r.Values))
	case err != nil:
		return false, fmt.Errorf("helm history of %s/%s: %w", r.Namespace, r.Name, err)
	default:
		up := action.NewUpgrade(cfg)
		up.Namespace, up.RollbackOnFailure, up.WaitStrategy, up.Timeout, up.Labels = r.Namespace, true, waitStrategy, timeout, h.labels
		up.PostRenderer = postRenderers(runLabeler{runID: h.runID}, r.PostRenderer)
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
	u.WaitStrategy, u.Timeout, u.IgnoreNotFound = waitStrategy, 3*time.Minute, true
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
	out, err := common.ReadValues(mustYAML(v))
	if err != nil {
		return v
	}
	return out
}

// CachedChart is the path of c's .tgz in meshgate's chart cache, or "".
func CachedChart(cacheDir string, c Chart) string {
	if c.Name == "" || c.Version == "" {
		return ""
	}
	p := cachedChartPath(cacheDir, c)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

func cachedChartPath(cacheDir string, c Chart) string {
	return filepath.Join(cacheDir, "charts", c.Name+"-"+c.Version+".tgz")
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
