package istio

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/fixtures"
	outside "github.com/meshgate/meshgate/fixtures/client"
	istiofx "github.com/meshgate/meshgate/fixtures/istio"
	"github.com/meshgate/meshgate/internal/addons"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/kube"
	"github.com/meshgate/meshgate/internal/probe"
	"github.com/meshgate/meshgate/scenarios"
)

// IstioAdminPort is the istio-proxy's Envoy admin port, bound to the pod's
// loopback; a port-forward reaches it (UPSTREAM.md "Istio").
const IstioAdminPort = 15000

func newRuntime(ctx context.Context, s state) (*scenarios.Runtime, error) {
	env := s.Env
	if env == nil {
		cfg, err := cluster.RESTConfig(s.Kubeconfig, s.KubeContext)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", s.Kubeconfig, err)
		}
		env = &cluster.Env{RunID: s.RunID, RunDir: s.RunDir, Name: s.Name, KubeconfigPath: s.Kubeconfig,
			KubeContext: s.KubeContext, REST: cfg, Mesh: cluster.MeshIstio,
			KongProxyURL: s.KongProxyURL, KongAdminURL: s.KongAdminURL}
	}
	c, err := client.New(env.REST, client.Options{Scheme: fixtures.Scheme()})
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	cfg := scenarios.DefaultConfig()
	rt := &scenarios.Runtime{
		Env:       env,
		Client:    c,
		Applier:   &scenarios.KubeApplier{Client: c, RunID: env.RunID, Wait: cfg.Timeouts.Apply, Poll: cfg.Timeouts.Poll, Log: env.Logger()},
		Kong:      scenarios.Kong{ProxyURL: env.KongProxyURL},
		Sidecars:  sidecars{rest: env.REST},
		Plaintext: &plaintext{c: c, rest: env.REST},
		HTTP:      &http.Client{Timeout: cfg.Timeouts.Request},
		Echo:      probe.DecodeEchoJSON,
		Timeouts:  cfg.Timeouts,
		Log:       env.Logger(),
	}
	if env.KongAdminURL != "" {
		rt.Kong.Admin = httpAdmin{base: strings.TrimRight(env.KongAdminURL, "/"), hc: cluster.KongAdminHTTPClient()}
	}
	return rt, nil
}

// httpAdmin reads Kong's admin API through the port-forward stack.Up holds.
type httpAdmin struct {
	base string
	hc   *http.Client
}

func (a httpAdmin) Get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("kong admin %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("kong admin %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("kong admin %s: %s %q", path, resp.Status, body)
	}
	return body, nil
}

// sidecars reaches an istio-proxy's Envoy admin on the pod's loopback.
type sidecars struct{ rest *rest.Config }

func (s sidecars) Admin(_ context.Context, namespace, pod string) (probe.AdminGetter, error) {
	return &probe.PodPort{REST: s.rest, Namespace: namespace, Pod: pod, Port: IstioAdminPort}, nil
}

// plaintext execs the echo binary's --get in the outside client's pod,
// found when first used (the pod exists once its fixture is applied).
type plaintext struct {
	c    client.Client
	rest *rest.Config
}

func (p *plaintext) Get(ctx context.Context, url string, timeout time.Duration) probe.RequestResult {
	var pods corev1.PodList
	err := p.c.List(ctx, &pods, client.InNamespace(outside.Namespace), client.MatchingLabels{"app": outside.Name})
	if err != nil || len(pods.Items) == 0 {
		return probe.RequestResult{Outcome: probe.OutcomeError,
			Error: fmt.Sprintf("no %s pod in %s (is the client fixture applied?): %v", outside.Name, outside.Namespace, err)}
	}
	e := &probe.ExecGet{REST: p.rest, Namespace: outside.Namespace, Pod: pods.Items[0].Name,
		Container: outside.Container, Command: []string{outside.BinaryPath, "--get"}}
	return e.Get(ctx, url, timeout)
}

// collectDiagnostics writes the bundle for a failed spec: the scenario's
// namespaces, Kong (status, upstream targets), istiod, sidecar dumps and
// node logs.
func collectDiagnostics(ctx context.Context, env *cluster.Env, scenario string) string {
	dir := filepath.Join(*outDir, "diagnostics", scenario)
	o := kube.DiagnosticsOptions{
		Dir:           dir,
		Namespaces:    []string{istiofx.DefaultNamespace, outside.Namespace, cluster.KongNamespace, addons.IstioNamespace},
		KongNamespace: cluster.KongNamespace,
		KongSelector:  cluster.KongGatewayLabel + "=" + cluster.KongRelease,
		KongAdminPort: cluster.KongAdminPort,
		Log:           env.Logger(),
	}
	if env.Provider == cluster.ProviderKind && env.Name != "" {
		k := cluster.NewKind(env.Log)
		name := env.Name
		o.NodeLogs = func(dir string) error { return k.CollectLogs(name, dir) }
	}
	if err := kube.CollectDiagnostics(ctx, env.REST, o); err != nil {
		fmt.Fprintf(GinkgoWriter, "diagnostics for %s incomplete (see %s/errors.txt): %v\n", scenario, dir, err)
	}
	return dir
}
