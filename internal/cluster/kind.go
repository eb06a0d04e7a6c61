package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindlog "sigs.k8s.io/kind/pkg/log"
	"sigs.k8s.io/yaml"
)

// KindConfig shapes the kind cluster meshgate creates.
type KindConfig struct {
	Name      string
	NodeImage string // pinned by digest (addons matrix kind.nodeImage)
	// Workers run Kong, the mesh and the backends; one more worker is
	// reserved for the load generator (labelled and tainted).
	Workers int
	// Host ports on 127.0.0.1 mapped to Kong's proxy NodePorts.
	ProxyHostPort    int
	ProxyTLSHostPort int
}

// V1Alpha4 renders the kind configuration: one control-plane node carrying
// the port mappings (kube-proxy answers NodePorts on every node), Workers
// general workers and one load-generator worker.
func (c KindConfig) V1Alpha4() *v1alpha4.Cluster {
	cfg := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:     c.Name,
	}
	cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{
		Role:  v1alpha4.ControlPlaneRole,
		Image: c.NodeImage,
		ExtraPortMappings: []v1alpha4.PortMapping{
			{ContainerPort: KongProxyNodePort, HostPort: int32(c.ProxyHostPort), ListenAddress: "127.0.0.1", Protocol: v1alpha4.PortMappingProtocolTCP},
			{ContainerPort: KongProxyTLSNodePort, HostPort: int32(c.ProxyTLSHostPort), ListenAddress: "127.0.0.1", Protocol: v1alpha4.PortMappingProtocolTCP},
		},
	})
	for range c.Workers {
		cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: v1alpha4.WorkerRole, Image: c.NodeImage})
	}
	cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{
		Role:   v1alpha4.WorkerRole,
		Image:  c.NodeImage,
		Labels: map[string]string{LoadgenNodeLabel: LoadgenPool},
		// Node labels go through kind's labels field (kubelet node-labels); a
		// patch of nodeRegistration.kubeletExtraArgs would replace them.
		KubeadmConfigPatches: []string{loadgenTaintPatch},
	})
	return cfg
}

// The taint is set at join time, so nothing lands on the node before it.
const loadgenTaintPatch = `kind: JoinConfiguration
nodeRegistration:
  taints:
  - key: ` + LoadgenTaintKey + `
    value: "true"
    effect: NoSchedule
`

// YAML is the configuration as kind would read it from a file.
func (c KindConfig) YAML() ([]byte, error) {
	return yaml.Marshal(c.V1Alpha4())
}

// Kind drives kind's Go library; no kind binary is needed.
type Kind struct {
	provider *kindcluster.Provider
	log      *slog.Logger
}

// NewKind returns a kind driver logging to log (nil discards).
func NewKind(log *slog.Logger) *Kind {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Kind{provider: kindcluster.NewProvider(kindcluster.ProviderWithLogger(kindLogger{log})), log: log}
}

// Exists reports whether a kind cluster of that name exists.
func (k *Kind) Exists(name string) (bool, error) {
	names, err := k.provider.List()
	if err != nil {
		return false, fmt.Errorf("list kind clusters: %w", err)
	}
	return slices.Contains(names, name), nil
}

// Create creates the cluster and writes its kubeconfig to kubeconfigPath
// (only there: the user's own kubeconfig is left alone). kind cannot be
// interrupted half way: on ctx cancellation Create waits for kind to return,
// deletes the cluster and returns ctx's error.
func (k *Kind) Create(ctx context.Context, cfg KindConfig, kubeconfigPath string) error {
	if ok, err := k.Exists(cfg.Name); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("kind cluster %q already exists; run on it with --reuse --name %s, or delete it with meshgate down --name %s", cfg.Name, cfg.Name, cfg.Name)
	}
	done := make(chan error, 1)
	go func() {
		done <- k.provider.Create(cfg.Name,
			kindcluster.CreateWithV1Alpha4Config(cfg.V1Alpha4()),
			kindcluster.CreateWithNodeImage(cfg.NodeImage),
			kindcluster.CreateWithKubeconfigPath(kubeconfigPath),
			kindcluster.CreateWithWaitForReady(3*time.Minute),
			kindcluster.CreateWithDisplayUsage(false),
			kindcluster.CreateWithDisplaySalutation(false),
		)
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("create kind cluster %q with node image %s: %w", cfg.Name, cfg.NodeImage, err)
		}
		return nil
	case <-ctx.Done():
		k.log.Warn("interrupted: waiting for kind to finish creating, then deleting the cluster", "cluster", cfg.Name)
		<-done
		if err := k.Delete(cfg.Name, kubeconfigPath); err != nil {
			return errors.Join(ctx.Err(), err)
		}
		return ctx.Err()
	}
}

// WriteKubeconfig writes the host-reachable kubeconfig of an existing cluster.
func (k *Kind) WriteKubeconfig(name, path string) error {
	cfg, err := k.provider.KubeConfig(name, false)
	if err != nil {
		return fmt.Errorf("kubeconfig of kind cluster %q: %w", name, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(cfg), 0o600)
}

// Delete deletes the cluster; kubeconfigPath is the file its context was
// written to (the context is removed from it).
func (k *Kind) Delete(name, kubeconfigPath string) error {
	if err := k.provider.Delete(name, kubeconfigPath); err != nil {
		return fmt.Errorf("delete kind cluster %q: %w", name, err)
	}
	return nil
}

// LoadImageArchive imports an image archive (docker save / OCI tarball
// layout) into every node; open returns a fresh reader for each node.
func (k *Kind) LoadImageArchive(name string, open func() (io.ReadCloser, error)) error {
	nodeList, err := k.provider.ListInternalNodes(name)
	if err != nil {
		return fmt.Errorf("nodes of kind cluster %q: %w", name, err)
	}
	for _, n := range nodeList {
		if err := loadInto(n, open); err != nil {
			return fmt.Errorf("load image archive into node %s: %w", n.String(), err)
		}
	}
	return nil
}

func loadInto(n nodes.Node, open func() (io.ReadCloser, error)) error {
	r, err := open()
	if err != nil {
		return err
	}
	defer r.Close()
	return nodeutils.LoadImageArchive(n, r)
}

// CollectLogs writes kind's node logs (kubelet, containerd, journal) to dir.
func (k *Kind) CollectLogs(name, dir string) error {
	return k.provider.CollectLogs(name, dir)
}

// KindContext is the kubeconfig context kind writes for a cluster.
func KindContext(name string) string { return "kind-" + name }

// RESTConfig loads a REST config from a kubeconfig file and context.
func RESTConfig(kubeconfigPath, context string) (*rest.Config, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfigPath}
	if kubeconfigPath == "" {
		rules = clientcmd.NewDefaultClientConfigLoadingRules()
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		where := kubeconfigPath
		if where == "" {
			where = "the default kubeconfig (KUBECONFIG or ~/.kube/config)"
		}
		return nil, fmt.Errorf("kubeconfig %s, context %q: %w", where, context, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, nil
}

// kindLogger sends kind's messages to slog: V(0) as info, the rest as debug.
type kindLogger struct{ l *slog.Logger }

func (k kindLogger) Warn(m string)                        { k.l.Warn(m, "from", "kind") }
func (k kindLogger) Warnf(f string, a ...any)             { k.l.Warn(fmt.Sprintf(f, a...), "from", "kind") }
func (k kindLogger) Error(m string)                       { k.l.Error(m, "from", "kind") }
func (k kindLogger) Errorf(f string, a ...any)            { k.l.Error(fmt.Sprintf(f, a...), "from", "kind") }
func (k kindLogger) V(v kindlog.Level) kindlog.InfoLogger { return kindInfo{l: k.l, debug: v > 0} }

type kindInfo struct {
	l     *slog.Logger
	debug bool
}

func (k kindInfo) Info(m string) {
	if k.debug {
		k.l.Debug(m, "from", "kind")
		return
	}
	k.l.Info(m, "from", "kind")
}
func (k kindInfo) Infof(f string, a ...any) { k.Info(fmt.Sprintf(f, a...)) }
func (k kindInfo) Enabled() bool {
	lvl := slog.LevelInfo
	if k.debug {
		lvl = slog.LevelDebug
	}
	return k.l.Enabled(context.Background(), lvl)
}
