package scenarios

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/fixtures"
	meshclient "github.com/meshgate/meshgate/fixtures/client"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/probe"
)

// SuiteFlags are the test binary flags a suite reads (go test ./suites/kuma
// -args -meshgate.out=DIR ...). With Kubeconfig set the suite attaches to a
// stack `meshgate e2e` brought up; without it the suite brings up its own.
type SuiteFlags struct {
	Out        string
	Kubeconfig string
	Context    string
	KongProxy  string
	KongAdmin  string
	RunID      string
	// Standalone mode (the suite owns the cluster).
	Name          string
	Reuse         bool
	Keep          bool
	KeepOnFailure bool
	KeepalivePool int
	Verbose       bool
}

// Register adds the flags to fs (flag.CommandLine in a suite).
func (f *SuiteFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Out, "meshgate.out", "", "folder for e2e.json and diagnostics (default: the run folder)")
	fs.StringVar(&f.Kubeconfig, "meshgate.kubeconfig", "", "attach to the cluster of this kubeconfig (set by `meshgate e2e`), instead of bringing one up")
	fs.StringVar(&f.Context, "meshgate.context", "", "context in -meshgate.kubeconfig")
	fs.StringVar(&f.KongProxy, "meshgate.kong-proxy", "", "Kong proxy URL from the host (attach mode)")
	fs.StringVar(&f.KongAdmin, "meshgate.kong-admin", "", "Kong admin URL from the host (attach mode)")
	fs.StringVar(&f.RunID, "meshgate.run-id", "", "run ID that labels objects (attach mode)")
	fs.StringVar(&f.Name, "meshgate.name", "", "kind cluster name (standalone mode)")
	fs.BoolVar(&f.Reuse, "meshgate.reuse", false, "reuse the kind cluster -meshgate.name (standalone mode)")
	fs.BoolVar(&f.Keep, "meshgate.keep", false, "keep the cluster after the suite (standalone mode)")
	fs.BoolVar(&f.KeepOnFailure, "meshgate.keep-on-failure", false, "keep the cluster when a spec failed (standalone mode)")
	fs.IntVar(&f.KeepalivePool, "meshgate.kong-keepalive-pool", -1, "Kong upstream_keepalive_pool_size (standalone mode; -1 keeps Kong's default)")
	fs.BoolVar(&f.Verbose, "meshgate.v", false, "progress logs on stderr")
}

// Attached reports whether the suite runs on a stack someone else owns.
func (f SuiteFlags) Attached() bool { return f.Kubeconfig != "" }

// Logger is quiet unless -meshgate.v.
func (f SuiteFlags) Logger() *slog.Logger {
	if !f.Verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// AttachEnv builds the Env of a stack brought up by another process.
func (f SuiteFlags) AttachEnv(mesh string) (*cluster.Env, error) {
	if f.KongProxy == "" || f.KongAdmin == "" {
		return nil, fmt.Errorf("attach mode (-meshgate.kubeconfig %s) needs -meshgate.kong-proxy and -meshgate.kong-admin; `meshgate e2e` sets them", f.Kubeconfig)
	}
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: f.Kubeconfig}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: f.Context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s (context %q): %w", f.Kubeconfig, f.Context, err)
	}
	runID := f.RunID
	if runID == "" {
		runID = "attached-" + time.Now().UTC().Format("20060102-150405")
	}
	return &cluster.Env{
		RunID: runID, RunDir: f.Out, Name: f.Context, KubeconfigPath: f.Kubeconfig, KubeContext: f.Context,
		REST: cfg, Log: f.Logger(), Provider: cluster.ProviderExisting, Mesh: mesh,
		KongProxyURL: f.KongProxy, KongAdminURL: f.KongAdmin,
	}, nil
}

// NewRuntime builds what the scenarios touch from a ready Env: a client, the
// applier, Kong's proxy and admin API, the sidecar stats reader (Kuma's
// inspect API; Istio suites set their own) and the out-of-mesh client.
func NewRuntime(env *cluster.Env, cfg Config) (*Runtime, error) {
	c, err := client.New(env.REST, client.Options{Scheme: fixtures.Scheme()})
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", env.KubeconfigPath, err)
	}
	rt := &Runtime{
		Env: env, Client: c,
		Applier: &KubeApplier{Client: c, RunID: env.RunID, Wait: cfg.Timeouts.Apply, Poll: cfg.Timeouts.Poll, Log: env.Logger()},
		Kong: Kong{
			ProxyURL: env.KongProxyURL,
			Admin:    probe.HTTPAdmin{Base: env.KongAdminURL, HTTP: cluster.KongAdminHTTPClient()},
		},
		Plaintext: &clientPod{env: env, c: c},
		HTTP:      &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		Echo:      probe.DecodeEchoJSON,
		Timeouts:  cfg.Timeouts,
		Log:       env.Logger(),
	}
	if env.KongAdminURL == "" {
		rt.Kong.Admin = nil
	}
	if env.Mesh == cluster.MeshKuma {
		rt.Sidecars = probe.KumaInspect{REST: env.REST, Namespace: "kuma-system", Service: "kuma-control-plane", Mesh: "default"}
	}
	return rt, nil
}

// clientPod execs fixtures/client's plaintext GET in the client pod, found
// by its app label when first used (the Deployment names it).
type clientPod struct {
	env *cluster.Env
	c   client.Client

	mu   sync.Mutex
	exec *probe.ExecGet
}

func (p *clientPod) Get(ctx context.Context, url string, timeout time.Duration) probe.RequestResult {
	ex, err := p.executor(ctx)
	if err != nil {
		return probe.RequestResult{Outcome: probe.OutcomeError, Error: err.Error()}
	}
	return ex.Get(ctx, url, timeout)
}

func (p *clientPod) executor(ctx context.Context) (*probe.ExecGet, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exec != nil {
		return p.exec, nil
	}
	var pods corev1.PodList
	if err := p.c.List(ctx, &pods, client.InNamespace(meshclient.Namespace), client.MatchingLabels{"app": meshclient.Name}); err != nil {
		return nil, fmt.Errorf("finding the client pod app=%s in %s: %w", meshclient.Name, meshclient.Namespace, err)
	}
	for _, pod := range pods.Items {
		if pod.Status.Phase == corev1.PodRunning && pod.DeletionTimestamp == nil {
			p.exec = &probe.ExecGet{REST: p.env.REST, Namespace: pod.Namespace, Pod: pod.Name, Container: meshclient.Container, Command: []string{meshclient.BinaryPath, "--get"}}
			return p.exec, nil
		}
	}
	return nil, fmt.Errorf("no running client pod app=%s in %s (was the negative-control set applied?)", meshclient.Name, meshclient.Namespace)
}

// Versions reads what really runs: the Kubernetes server version, the
// images of the mesh control plane and Kong's Deployments, and the version
// Kong's admin API reports. What cannot be read is left out, never guessed.
func Versions(ctx context.Context, rt *Runtime) map[string]string {
	v := map[string]string{}
	if dc, err := discovery.NewDiscoveryClientForConfig(rt.Env.REST); err == nil {
		if sv, err := dc.ServerVersion(); err == nil {
			v["kubernetes"] = sv.GitVersion
		}
	}
	for key, ref := range map[string]client.ObjectKey{
		"kuma-cp":         {Namespace: "kuma-system", Name: "kuma-control-plane"},
		"kong-gateway":    {Namespace: cluster.KongNamespace, Name: cluster.KongGatewayName},
		"kong-controller": {Namespace: cluster.KongNamespace, Name: cluster.KongControllerName},
	} {
		var d appsv1.Deployment
		if err := rt.Client.Get(ctx, ref, &d); err == nil && len(d.Spec.Template.Spec.Containers) > 0 {
			v[key] = d.Spec.Template.Spec.Containers[0].Image
		}
	}
	if rt.Kong.Admin != nil {
		var ev Evidence
		if err := ProbeKongConfig().Run(ctx, rt, &ev); err == nil && ev.Kong != nil {
			v["kong"] = ev.Kong.Version
		}
	}
	return v
}
