package kubetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/internal/pki"
)

// SimAssetsEnv names the folder holding kube-controller-manager,
// kube-scheduler, kwok and kwok-stages.yaml, built by `make sim-assets`.
const SimAssetsEnv = "MESHGATE_SIM_ASSETS"

// kwok marks the nodes it owns with this annotation (kwok's documented
// in-cluster selector: sigs.k8s.io/kwok v0.8.0 kustomize/kwok/kwok.yaml).
const kwokNodeAnnotation = "kwok.x-k8s.io/node"

// SimOptions shape a simulated cluster.
type SimOptions struct {
	Nodes int // fake nodes kwok owns (default 3)
	// PortForwards answer the API server's pod port-forwards: any pod in
	// Namespace, on one of Ports, is forwarded by kwok to Target (host:port on
	// loopback). Pods have no processes, so this is the only way to reach one.
	PortForwards []SimPortForward
}

// SimPortForward sends port-forwards to pods of a namespace to a local address.
type SimPortForward struct {
	Namespace string
	Ports     []int32
	Target    string
}

// Sim is a simulated cluster: envtest's kube-apiserver and etcd with the real
// kube-controller-manager and kube-scheduler, and kwok owning fake nodes, so
// Deployments roll out, pods are scheduled, become Running and Ready, Jobs
// complete and namespaces are finalized. No container runs: a pod is only
// its API object, so nothing answers on a pod IP.
type Sim struct {
	*Env
	Kubeconfig string   // a cluster-admin kubeconfig file, for the code under test
	Nodes      []string // the fake nodes, Ready
	CA         *pki.Authority
	Serving    *pki.Cert // a 127.0.0.1 server certificate signed by CA, for test servers
	LogDir     string    // each component's output
}

// StartSim starts a simulated cluster and stops it when t ends. It skips t
// when KUBEBUILDER_ASSETS or MESHGATE_SIM_ASSETS is unset.
func StartSim(t testing.TB, o SimOptions) *Sim {
	t.Helper()
	assets, simAssets, skip, err := simAssets()
	if skip != "" {
		t.Skip(skip)
	}
	if err != nil {
		t.Fatal(err)
	}
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	dir := t.TempDir()
	s, stop, err := startSim(assets, simAssets, dir, o)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stopping the simulated cluster: %v", err)
		}
	})
	if err != nil {
		t.Fatalf("%v (component logs in %s)", err, filepath.Join(dir, "logs"))
	}
	return s
}

func simAssets() (assets, sim, skip string, err error) {
	assets, sim = os.Getenv(AssetsEnv), os.Getenv(SimAssetsEnv)
	if assets == "" {
		return "", "", AssetsEnv + " is unset: no kube-apiserver/etcd for the simulated cluster; run `make test-sim`", nil
	}
	if sim == "" {
		return "", "", SimAssetsEnv + " is unset: no kube-controller-manager, kube-scheduler and kwok; " +
			"build them with `make sim-assets` (about 15 minutes the first time) and run `make test-sim`", nil
	}
	for _, f := range []string{"kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages.yaml"} {
		if _, err := os.Stat(filepath.Join(sim, f)); err != nil {
			return "", "", "", fmt.Errorf("%s=%s has no %s (%v): rebuild with `make sim-assets`", SimAssetsEnv, sim, f, err)
		}
	}
	return assets, sim, "", nil
}

func startSim(assets, simAssets, dir string, o SimOptions) (*Sim, func() error, error) {
	s := &Sim{LogDir: filepath.Join(dir, "logs")}
	var stops []func() error
	stop := func() error {
		var errs []error
		for i := len(stops) - 1; i >= 0; i-- {
			errs = append(errs, stops[i]())
		}
		stops = nil
		return errors.Join(errs...)
	}
	if err := os.MkdirAll(s.LogDir, 0o755); err != nil {
		return nil, stop, err
	}
	if err := s.issueCerts(dir); err != nil {
		return nil, stop, err
	}
	ctrllog.SetLogger(logr.Discard())
	te := &envtest.Environment{BinaryAssetsDirectory: assets, Scheme: fixtures.Scheme()}
	// envtest turns ServiceAccount admission off because it runs no
	// controller to create default ServiceAccounts; the controller manager
	// here does, so admission is as on a real cluster.
	apiserver := te.ControlPlane.GetAPIServer()
	apiserver.Configure().Set("disable-admission-plugins", "")
	apiLog, err := os.Create(filepath.Join(s.LogDir, "kube-apiserver.log"))
	if err != nil {
		return nil, stop, err
	}
	stops = append(stops, apiLog.Close)
	apiserver.Out, apiserver.Err = apiLog, apiLog
	cfg, err := te.Start()
	stops = append(stops, te.Stop)
	if err != nil {
		return nil, stop, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	admin, err := te.AddUser(envtest.User{Name: "meshgate-sim-admin", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		return nil, stop, err
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		return nil, stop, err
	}
	s.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(s.Kubeconfig, kc, 0o600); err != nil {
		return nil, stop, err
	}
	c, err := client.New(admin.Config(), client.Options{Scheme: te.Scheme})
	if err != nil {
		return nil, stop, err
	}
	s.Env = &Env{Config: admin.Config(), Client: c, Scheme: te.Scheme}
	kwokArgs, err := s.kwokArgs(dir, simAssets, o)
	if err != nil {
		return nil, stop, err
	}
	for _, p := range []struct {
		name string
		args []string
	}{
		{"kube-controller-manager", []string{"--kubeconfig=" + s.Kubeconfig, "--leader-elect=false", "--secure-port=0"}},
		{"kube-scheduler", []string{"--kubeconfig=" + s.Kubeconfig, "--leader-elect=false", "--secure-port=0"}},
		{"kwok", kwokArgs},
	} {
		stopProc, err := startProcess(filepath.Join(simAssets, p.name), p.args, filepath.Join(s.LogDir, p.name+".log"))
		if err != nil {
			return nil, stop, err
		}
		stops = append(stops, stopProc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.addNodes(ctx, o.Nodes); err != nil {
		return nil, stop, err
	}
	return s, stop, nil
}

func (s *Sim) issueCerts(dir string) error {
	ca, err := pki.NewCA("sim-ca", "meshgate simulated cluster CA", nil, time.Now())
	if err != nil {
		return err
	}
	serving, err := ca.Issue(pki.Spec{
		Name: "sim-serving", CommonName: "127.0.0.1", IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		Server: true, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
	})
	if err != nil {
		return err
	}
	serving.CertFile, serving.KeyFile = filepath.Join(dir, "serving.pem"), filepath.Join(dir, "serving-key.pem")
	if err := os.WriteFile(serving.CertFile, serving.CertPEM, 0o600); err != nil {
		return err
	}
	s.CA, s.Serving = ca, serving
	return os.WriteFile(serving.KeyFile, serving.KeyPEM(), 0o600)
}

// kwokArgs points kwok at its stages and port-forwards, and makes every
// fake node's kubelet endpoint kwok's own server on 127.0.0.1, so the API
// server's port-forward, logs and exec calls stay on loopback.
func (s *Sim) kwokArgs(dir, simAssets string, o SimOptions) ([]string, error) {
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	stages, err := os.ReadFile(filepath.Join(simAssets, "kwok-stages.yaml"))
	if err != nil {
		return nil, err
	}
	conf := string(stages)
	for i, pf := range o.PortForwards {
		host, p, err := net.SplitHostPort(pf.Target)
		if err != nil {
			return nil, fmt.Errorf("port-forward target %q: %w", pf.Target, err)
		}
		targetPort, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("port-forward target %q: %w", pf.Target, err)
		}
		doc, err := yaml.Marshal(map[string]any{
			"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterPortForward",
			"metadata": map[string]any{"name": fmt.Sprintf("sim-forward-%d", i)},
			"spec": map[string]any{
				"selector": map[string]any{"matchNamespaces": []string{pf.Namespace}},
				"forwards": []any{map[string]any{"ports": pf.Ports, "target": map[string]any{"address": host, "port": targetPort}}},
			},
		})
		if err != nil {
			return nil, err
		}
		conf += "\n---\n" + string(doc)
	}
	confFile := filepath.Join(dir, "kwok.yaml")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	return []string{
		"--kubeconfig=" + s.Kubeconfig, "--config=" + confFile,
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=" + kwokNodeAnnotation + "=fake",
		"--node-ip=127.0.0.1", fmt.Sprintf("--node-port=%d", port), fmt.Sprintf("--server-address=127.0.0.1:%d", port),
		"--tls-cert-file=" + s.Serving.CertFile, "--tls-private-key-file=" + s.Serving.KeyFile,
		"--cidr=10.244.0.0/16",
	}, nil
}

// addNodes creates fake nodes for kwok and waits until kwok reports each Ready.
func (s *Sim) addNodes(ctx context.Context, n int) error {
	for i := range n {
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        fmt.Sprintf("sim-node-%d", i),
				Annotations: map[string]string{kwokNodeAnnotation: "fake"},
				Labels:      map[string]string{"type": "kwok", corev1.LabelHostname: fmt.Sprintf("sim-node-%d", i), corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64"},
			},
			Status: corev1.NodeStatus{
				Capacity:    simNodeCapacity(),
				Allocatable: simNodeCapacity(),
			},
		}
		if err := s.Client.Create(ctx, node); err != nil {
			return fmt.Errorf("creating fake node %s: %w", node.Name, err)
		}
		s.Nodes = append(s.Nodes, node.Name)
	}
	for {
		var nodes corev1.NodeList
		if err := s.Client.List(ctx, &nodes); err != nil {
			return err
		}
		ready := 0
		for _, node := range nodes.Items {
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		if ready == n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kwok made %d of %d fake nodes Ready: %w", ready, n, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func simNodeCapacity() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
}

// startProcess runs bin with its output in logFile; the returned stop ends
// it (SIGTERM, then SIGKILL after 10 s).
func startProcess(bin string, args []string, logFile string) (func() error, error) {
	out, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return func() error {
		defer out.Close()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		return nil
	}, nil
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
