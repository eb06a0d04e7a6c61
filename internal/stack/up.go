package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/internal/addons"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/images"
	"github.com/meshgate/meshgate/internal/kube"
)

// StateFile, in the run folder, records what Down needs when it runs in
// another process (`meshgate down --run DIR`).
const StateFile = "meshgate-env.json"

type state struct {
	RunID          string            `json:"runID"`
	Provider       string            `json:"provider"`
	Mesh           string            `json:"mesh"`
	Name           string            `json:"name"`
	KubeconfigPath string            `json:"kubeconfig"`
	KubeContext    string            `json:"context"`
	ClusterCreated bool              `json:"clusterCreated"`
	Created        []cluster.Created `json:"created,omitempty"`
	KongProxyURL   string            `json:"kongProxyURL,omitempty"`
}

func up(ctx context.Context, opts Options) (env *cluster.Env, err error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = withDefaults(opts)
	m, err := matrixOf(opts)
	if err != nil {
		return nil, err
	}
	runID := newRunID()
	_, statErr := os.Stat(opts.RunDir)
	madeRunDir := opts.RunDir == "" || errors.Is(statErr, os.ErrNotExist)
	if opts.RunDir == "" {
		if opts.RunDir, err = os.MkdirTemp("", "meshgate-"+runID+"-"); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(opts.RunDir, 0o755); err != nil {
		return nil, fmt.Errorf("run folder %s: %w", opts.RunDir, err)
	}
	env = &cluster.Env{RunID: runID, RunDir: opts.RunDir, Log: opts.Log, Mesh: opts.Mesh, Provider: opts.Provider}
	log := env.Logger()
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	defer func() {
		if err == nil {
			return
		}
		// The run's context may be cancelled (Ctrl-C, timeout): collect and
		// clean up on a fresh one.
		fresh, cancelFresh := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancelFresh()
		var se *cluster.StepError
		if errors.As(err, &se) && env.REST != nil {
			dir := Diagnostics(fresh, env, se.Step)
			err = fmt.Errorf("%w\ndiagnostics: %s", err, dir)
		}
		if opts.Keep || opts.KeepOnFailure {
			log.Warn("keeping what this run created", "run", env.RunDir, "cluster", env.Name, "delete with", "meshgate down --run "+env.RunDir)
			_ = saveState(env)
			return
		}
		if terr := env.Teardown(fresh); terr != nil {
			err = errors.Join(err, terr)
		}
		_ = os.Remove(filepath.Join(env.RunDir, StateFile))
		if madeRunDir {
			_ = os.Remove(env.RunDir) // only when nothing was written to it
		}
	}()

	var kind *cluster.Kind
	switch opts.Provider {
	case cluster.ProviderKind:
		kind = cluster.NewKind(log)
		if err := kindCluster(ctx, env, kind, opts, m); err != nil {
			return env, &cluster.StepError{Step: "cluster", Err: err}
		}
	case cluster.ProviderExisting:
		if err := existingCluster(ctx, env, opts); err != nil {
			return env, &cluster.StepError{Step: "cluster", Err: err}
		}
	}
	if err := saveState(env); err != nil {
		return env, err
	}
	if kind != nil {
		if err := loadImages(ctx, env, kind, opts, m); err != nil {
			return env, &cluster.StepError{Step: "images", Err: err}
		}
	} else if !opts.SkipOwnImages {
		log.Warn("existing cluster: meshgate does not push images; push " + strings.Join(ownImageRefs(), ", ") + " to a registry the cluster pulls from and point the fixtures at it")
	}
	ao := addons.Options{Mesh: opts.Mesh, Kind: kind != nil, ImageMirror: opts.ImageMirror, KongKeepalivePoolSize: opts.KongKeepalivePoolSize, ProxyServiceType: opts.ProxyServiceType, KongPlain: opts.KongPlain, PostRenderer: opts.PostRenderer}
	steps, err := addons.MeshSteps(*m, ao, addons.DefaultTimeouts)
	if err != nil {
		return env, err
	}
	if opts.UseInstalledMesh {
		steps = withoutStep(steps, opts.Mesh)
	}
	if err := cluster.RunSteps(ctx, env, steps...); err != nil {
		return env, err
	}
	if err := connectKong(ctx, env, kind != nil); err != nil {
		return env, &cluster.StepError{Step: "kong-admin", Err: err}
	}
	if err := saveState(env); err != nil {
		return env, err
	}
	log.Info("stack ready", "mesh", opts.Mesh, "cluster", env.Name, "proxy", env.KongProxyURL, "elapsed", time.Since(start).Round(time.Second))
	return env, nil
}

func withDefaults(o Options) Options {
	if o.Provider == "" {
		o.Provider = cluster.ProviderKind
	}
	if o.Timeout == 0 {
		o.Timeout = 15 * time.Minute
	}
	if o.Workers == 0 {
		o.Workers = 2
	}
	if o.ProxyHostPort == 0 {
		o.ProxyHostPort = cluster.KongProxyNodePort
	}
	if o.ProxyTLSHostPort == 0 {
		o.ProxyTLSHostPort = cluster.KongProxyTLSNodePort
	}
	return o
}

func matrixOf(o Options) (*addons.Matrix, error) {
	if o.Matrix != nil {
		if err := o.Matrix.Validate(); err != nil {
			return nil, err
		}
		return o.Matrix, nil
	}
	m, err := addons.DefaultMatrix()
	return &m, err
}

func newRunID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

// kindCluster creates (or reuses) the kind cluster and fills env.
func kindCluster(ctx context.Context, env *cluster.Env, k *cluster.Kind, o Options, m *addons.Matrix) error {
	if err := cluster.DockerReachable(ctx); err != nil {
		return err
	}
	env.Name = o.Name
	if env.Name == "" {
		env.Name = "meshgate-" + env.RunID[strings.LastIndex(env.RunID, "-")+1:]
	}
	env.KubeconfigPath = filepath.Join(env.RunDir, "kubeconfig")
	env.KubeContext = cluster.KindContext(env.Name)
	httpPort, tlsPort, err := hostPorts(o)
	if err != nil {
		return err
	}
	if o.Reuse {
		ok, err := k.Exists(env.Name)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("--reuse: no kind cluster named %q (docker ps --filter label=io.x-k8s.kind.cluster lists them); create one with meshgate up --keep --name %s", env.Name, env.Name)
		}
		if err := k.WriteKubeconfig(env.Name, env.KubeconfigPath); err != nil {
			return err
		}
		env.Log.Info("reusing kind cluster", "cluster", env.Name)
	} else {
		cfg := cluster.KindConfig{Name: env.Name, NodeImage: m.Kind.NodeImage, Workers: o.Workers, ProxyHostPort: httpPort, ProxyTLSHostPort: tlsPort}
		env.Logger().Info("creating kind cluster", "cluster", env.Name, "nodeImage", cfg.NodeImage, "workers", cfg.Workers+1)
		name, kubeconfig := env.Name, env.KubeconfigPath
		if err := k.Create(ctx, cfg, kubeconfig); err != nil {
			return err
		}
		env.Created = true
		if !o.Keep {
			env.Defer("delete kind cluster "+name, func(context.Context) error { return k.Delete(name, kubeconfig) })
		}
	}
	rc, err := cluster.RESTConfig(env.KubeconfigPath, env.KubeContext)
	if err != nil {
		return err
	}
	env.REST = rc
	if env.LoadgenNode, err = loadgenNode(ctx, env); err != nil {
		return err
	}
	// On reuse the ports are whatever the kept cluster mapped; the defaults
	// are assumed (a kept cluster made with other ports needs --proxy-port).
	env.KongProxyURL = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	env.KongProxyTLSURL = fmt.Sprintf("https://127.0.0.1:%d", tlsPort)
	return nil
}

func hostPorts(o Options) (int, int, error) {
	h, t := o.ProxyHostPort, o.ProxyTLSHostPort
	var err error
	if h < 0 {
		if h, err = freePort(); err != nil {
			return 0, 0, err
		}
	}
	if t < 0 {
		if t, err = freePort(); err != nil {
			return 0, 0, err
		}
	}
	return h, t, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// existingCluster selects the user's cluster and refuses to install a mesh
// over one that is already there unless told to use it.
func existingCluster(ctx context.Context, env *cluster.Env, o Options) error {
	env.KubeconfigPath, env.KubeContext, env.Name = o.Kubeconfig, o.Context, o.Context
	rc, err := cluster.RESTConfig(o.Kubeconfig, o.Context)
	if err != nil {
		return err
	}
	env.REST = rc
	if env.Name == "" {
		env.Name = rc.Host
	}
	c, err := addons.Client(env)
	if err != nil {
		return err
	}
	found, err := addons.InstalledMeshes(ctx, c)
	if err != nil {
		return err
	}
	if len(found) > 0 && !o.UseInstalledMesh {
		return fmt.Errorf("cluster %s already has %s installed; meshgate will not install over it: pass --use-installed-mesh to run on it, or choose another cluster", env.Name, strings.Join(found, " and "))
	}
	if o.UseInstalledMesh && !contains(found, o.Mesh) {
		return fmt.Errorf("--use-installed-mesh: no %s found on cluster %s (found: %v)", o.Mesh, env.Name, found)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func withoutStep(steps []cluster.Step, name string) []cluster.Step {
	var out []cluster.Step
	for _, s := range steps {
		if s.Name != name {
			out = append(out, s)
		}
	}
	return out
}

func ownImageRefs() []string {
	var refs []string
	for _, s := range images.OwnImages("") {
		refs = append(refs, s.Ref)
	}
	return refs
}

// loadImages builds our images and loads them, and with Preload the upstream
// ones, into every kind node.
func loadImages(ctx context.Context, env *cluster.Env, k *cluster.Kind, o Options, m *addons.Matrix) error {
	log := env.Logger()
	if !o.SkipOwnImages {
		root := o.SourceDir
		if root == "" {
			var err error
			if root, err = moduleRoot(); err != nil {
				return err
			}
		}
		dir := filepath.Join(env.RunDir, "images")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for _, s := range images.OwnImages(root) {
			img, err := images.Build(ctx, s, log)
			if err != nil {
				return err
			}
			path := filepath.Join(dir, images.ArchiveName(s.Ref))
			if err := images.WriteArchive(path, s.Ref, img); err != nil {
				return err
			}
			if err := loadArchive(k, env.Name, path); err != nil {
				return fmt.Errorf("load %s: %w", s.Ref, err)
			}
			log.Info("image loaded", "image", s.Ref)
		}
	}
	if o.Preload {
		for _, ref := range addons.UpstreamImages(*m, o.Mesh, o.ImageMirror) {
			path, err := images.Pull(ctx, ref, "", images.CacheDir(), log)
			if err != nil {
				return err
			}
			if err := loadArchive(k, env.Name, path); err != nil {
				return fmt.Errorf("preload %s: %w", ref, err)
			}
			log.Info("image preloaded", "image", ref)
		}
	}
	return nil
}

func loadArchive(k *cluster.Kind, name, path string) error {
	return k.LoadImageArchive(name, func() (io.ReadCloser, error) { return os.Open(path) })
}

// moduleRoot walks up from the working directory to meshgate's go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(data), "module github.com/meshgate/meshgate\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("our images are built from meshgate's source, but no meshgate go.mod is above %s; run from the checkout or set the source directory", dir)
		}
	}
}

// connectKong opens the port-forwards to Kong (admin always; proxy on
// existing clusters, where no NodePort is mapped) and checks the admin API
// answers /status.
func connectKong(ctx context.Context, env *cluster.Env, onKind bool) error {
	selector := "app.kubernetes.io/instance=" + cluster.KongRelease + ",app.kubernetes.io/name=gateway"
	port, stop, err := forward(ctx, env.REST, cluster.KongNamespace, selector, cluster.KongAdminPort)
	if err != nil {
		return err
	}
	env.DeferLocal("close Kong admin port-forward", func(context.Context) error { stop(); return nil })
	env.KongAdminURL = fmt.Sprintf("https://127.0.0.1:%d", port)
	if !onKind {
		p, stopProxy, err := forward(ctx, env.REST, cluster.KongNamespace, selector, cluster.KongProxyPort)
		if err != nil {
			return err
		}
		env.DeferLocal("close Kong proxy port-forward", func(context.Context) error { stopProxy(); return nil })
		env.KongProxyURL = fmt.Sprintf("http://127.0.0.1:%d", p)
	}
	hc := cluster.KongAdminHTTPClient()
	return addons.Wait(ctx, env.Logger(), "Kong admin API", 2*time.Minute, addons.Check{
		Name: "Kong admin " + env.KongAdminURL + "/status answers 200",
		Ready: func(ctx context.Context) (bool, string, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.KongAdminURL+"/status", nil)
			if err != nil {
				return false, "", err
			}
			resp, err := hc.Do(req)
			if err != nil {
				return false, "", err
			}
			defer resp.Body.Close()
			return resp.StatusCode == http.StatusOK, resp.Status, nil
		},
	})
}

// Diagnostics writes the diagnostics bundle of a failed step to
// <RunDir>/diagnostics/<step>/ and returns that folder. Errors while
// collecting are logged and listed in the folder's errors.txt.
func Diagnostics(ctx context.Context, env *cluster.Env, step string) string {
	dir := filepath.Join(env.RunDir, "diagnostics", step)
	o := kube.DiagnosticsOptions{
		Dir:           dir,
		Namespaces:    []string{cluster.KongNamespace, "kube-system"},
		KongNamespace: cluster.KongNamespace,
		KongSelector:  "app.kubernetes.io/instance=" + cluster.KongRelease,
		KongAdminPort: cluster.KongAdminPort,
		Log:           env.Logger(),
	}
	if step == addons.StepKongPlain {
		o.Namespaces = append(o.Namespaces, cluster.KongPlainNamespace)
	}
	switch env.Mesh {
	case cluster.MeshKuma:
		o.Namespaces = append(o.Namespaces, addons.KumaNamespace)
		o.KumaCP = addons.KumaNamespace + "/" + addons.KumaCPName
	case cluster.MeshIstio, cluster.MeshIstioAmbient:
		o.Namespaces = append(o.Namespaces, addons.IstioNamespace)
	}
	if env.Provider == cluster.ProviderKind && env.Name != "" {
		k := cluster.NewKind(env.Log)
		name := env.Name
		o.NodeLogs = func(dir string) error { return k.CollectLogs(name, dir) }
	}
	if err := kube.CollectDiagnostics(ctx, env.REST, o); err != nil {
		env.Logger().Warn("diagnostics incomplete", "dir", dir, "err", err)
	}
	return dir
}

func saveState(env *cluster.Env) error {
	s := state{
		RunID: env.RunID, Provider: env.Provider, Mesh: env.Mesh, Name: env.Name,
		KubeconfigPath: env.KubeconfigPath, KubeContext: env.KubeContext,
		ClusterCreated: env.Created, Created: env.CreatedObjects(), KongProxyURL: env.KongProxyURL,
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	p := filepath.Join(env.RunDir, StateFile)
	if err := os.WriteFile(p+".tmp", append(data, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(p+".tmp", p)
}

// loadgenNode finds the node kind labelled for the load generator.
func loadgenNode(ctx context.Context, env *cluster.Env) (string, error) {
	c, err := addons.Client(env)
	if err != nil {
		return "", err
	}
	var nodes corev1.NodeList
	if err := c.List(ctx, &nodes, client.MatchingLabels{cluster.LoadgenNodeLabel: cluster.LoadgenPool}); err != nil {
		return "", fmt.Errorf("list nodes labelled %s=%s: %w", cluster.LoadgenNodeLabel, cluster.LoadgenPool, err)
	}
	if len(nodes.Items) == 0 {
		return "", fmt.Errorf("no node is labelled %s=%s; a kept cluster from another tool? create a fresh one without --reuse", cluster.LoadgenNodeLabel, cluster.LoadgenPool)
	}
	return nodes.Items[0].Name, nil
}
