package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/meshgate/meshgate/fixtures"
	ambientfx "github.com/meshgate/meshgate/fixtures/ambient"
	"github.com/meshgate/meshgate/fixtures/kong"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/kube"
)

// sharedObjects are what every mode stands on: the two namespaces, the echo
// backend (same image) in each, and the plain Kong's route to the plain one
// (IngressClass cluster.KongPlainClass: the Kong outside the mesh that
// stack.Options.KongPlain installs serves it, the meshed Kong does not).
func (p ClusterPlan) sharedObjects() []client.Object {
	o := p.Options
	plainNS := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Namespace, Labels: map[string]string{fixtures.LabelManagedBy: fixtures.ManagedBy}}}
	meshNS := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: o.MeshNamespace, Labels: map[string]string{fixtures.LabelManagedBy: fixtures.ManagedBy}}}
	switch o.Mesh {
	case cluster.MeshKuma:
		meshNS.Labels["kuma.io/sidecar-injection"] = "enabled"
	case cluster.MeshIstio:
		meshNS.Labels["istio-injection"] = "enabled"
	case cluster.MeshIstioAmbient:
		meshNS.Labels[ambientfx.LabelDataplaneMode] = ambientfx.DataplaneAmbient
	}
	objs := []client.Object{plainNS, meshNS}
	for _, ns := range []string{o.Namespace, o.MeshNamespace} {
		dep, svc := p.echo(ns)
		objs = append(objs, dep, svc)
	}
	plain := p.ingress(o.Namespace, "bench-plain", "/bench/plain", o.EchoName, int32(o.EchoPort))
	plain.Spec.IngressClassName = ptr.To(cluster.KongPlainClass)
	return append(objs, plain)
}

// kongMeshObjects route Kong in the mesh to the meshed echo with the fix:
// on Kuma through an ExternalName bridge to the mesh hostname, which names
// the Service's port (<svc>.<ns>.svc.<port>.mesh), routed on port 80 where
// the VIP listens (kumahq/kuma pkg/xds/topology/dns.go); on Istio through
// the Service's service-upstream and host-header (set in echo) with the
// route's preserve-host "false", so Kong's sidecar sees the Service's name
// as Host (kong.SendsHost).
func (p ClusterPlan) kongMeshObjects() []client.Object {
	o := p.Options
	if o.Mesh != cluster.MeshKuma {
		return []client.Object{p.kongMeshRoute("bench-mesh", "/bench/mesh", o.EchoName, int32(o.EchoPort))}
	}
	bridge := &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: o.EchoName + "-bridge", Namespace: o.MeshNamespace, Labels: map[string]string{fixtures.LabelManagedBy: fixtures.ManagedBy}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName,
			ExternalName: fmt.Sprintf("%s.%s.svc.%d.mesh", o.EchoName, o.MeshNamespace, o.EchoPort),
			Ports:        []corev1.ServicePort{{Name: "http", Port: kumaVIPPort}}}}
	return []client.Object{bridge, p.kongMeshRoute("bench-mesh", "/bench/mesh", bridge.Name, kumaVIPPort)}
}

// kumaVIPPort is the port Kuma's VIP outbound listens on for .mesh names.
const kumaVIPPort = 80

// kongMeshRoute is a Kong route in the meshed namespace; with Istio
// sidecars, KIC routes preserve the client's Host unless told not to, and
// Kong sends the Service's host-header only then.
func (p ClusterPlan) kongMeshRoute(name, path, backend string, port int32) *networkingv1.Ingress {
	r := p.ingress(p.Options.MeshNamespace, name, path, backend, port)
	if p.Options.Mesh == cluster.MeshIstio {
		r.Annotations[kong.PreserveHostAnnotation] = "false"
	}
	return r
}

func (p ClusterPlan) echo(ns string) (*appsv1.Deployment, *corev1.Service) {
	return p.echoNamed(ns, p.Options.EchoName)
}

// echoNamed is an echo Deployment and its Service; the pods carry app: name
// too, the label fixtures/istio's policies select.
func (p ClusterPlan) echoNamed(ns, name string) (*appsv1.Deployment, *corev1.Service) {
	o := p.Options
	sel := map[string]string{"app.kubernetes.io/name": name}
	lbl := map[string]string{"app.kubernetes.io/name": name, "app": name, fixtures.LabelManagedBy: fixtures.ManagedBy}
	dep := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: lbl},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "echo", Image: fixtures.EchoImage, ImagePullPolicy: corev1.PullIfNotPresent,
					Args:  []string{"--listen", fmt.Sprintf(":%d", o.EchoPort)},
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(o.EchoPort)}},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
						Path: "/healthz", Port: intstr.FromInt(o.EchoPort)}}, PeriodSeconds: 2},
				}}},
			},
		}}
	svc := &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: lbl},
		Spec: corev1.ServiceSpec{Selector: sel, Ports: []corev1.ServicePort{{
			Name: "http", Port: int32(o.EchoPort), TargetPort: intstr.FromInt(o.EchoPort), AppProtocol: ptr.To("http")}}}}
	if ns == o.MeshNamespace && cluster.IsIstio(o.Mesh) {
		svc.Annotations = map[string]string{kong.ServiceUpstreamAnnotation: "true"}
		if o.Mesh == cluster.MeshIstio { // the sidecar routes by Host; ztunnel does not
			svc.Annotations[kong.HostHeaderAnnotation] = fmt.Sprintf("%s.%s.svc.cluster.local", name, ns)
		}
	}
	return dep, svc
}

func (p ClusterPlan) ingress(ns, name, path, backend string, port int32) *networkingv1.Ingress {
	pt := networkingv1.PathTypePrefix
	return &networkingv1.Ingress{TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
			Labels:      map[string]string{fixtures.LabelManagedBy: fixtures.ManagedBy},
			Annotations: map[string]string{"konghq.com/strip-path": "true"}},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To(cluster.KongGatewayClass),
			Rules: []networkingv1.IngressRule{{IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: path, PathType: &pt, Backend: networkingv1.IngressBackend{
					Service: &networkingv1.IngressServiceBackend{Name: backend, Port: networkingv1.ServiceBackendPort{Number: port}}}}},
			}}}},
		}}
}

// RunCluster benchmarks plan on env's cluster: it applies the backend
// objects and the loadgen pods, waits for them, port-forwards to each
// loadgen, resolves the Pod-IP targets, checks that every mode's target
// answers 200 (a mode that does not fails the bench before any attack,
// unless the user excluded it from plan), and runs Execute with each mode
// attacking from its loadgen and the cluster observer reading mTLS evidence
// and proxy cost around each attack. The loadgen pods are deleted at the end.
func RunCluster(ctx context.Context, env *cluster.Env, p ClusterPlan, o Options, dir string) (*Summary, error) {
	log := env.Logger()
	cs, err := kubernetes.NewForConfig(env.REST)
	if err != nil {
		return nil, err
	}
	kc, err := kube.New(env.REST, env.RunID, log)
	if err != nil {
		return nil, err
	}
	if err := kc.Apply(ctx, p.AllObjects()...); err != nil {
		return nil, fmt.Errorf("apply the bench objects (meshgate bench --dry-run prints them): %w", err)
	}
	pods := p.LoadgenPods()
	if err := checkLoadgenFits(ctx, cs, pods, p.Options.Loaders); err != nil {
		return nil, err
	}
	loaders := map[string][]LoaderPart{}
	for _, pod := range pods {
		stop, base, err := startLoadgen(ctx, cs, env.REST, pod, log)
		if stop != nil {
			defer stop()
		}
		if err != nil {
			return nil, err
		}
		kind := pod.Labels[loadgenKindLabel]
		loaders[kind] = append(loaders[kind], LoaderPart{Name: pod.Namespace + "/" + pod.Name, Loader: RemoteLoader{BaseURL: base}})
	}
	if err := waitEcho(ctx, cs, p); err != nil {
		return nil, err
	}
	plan := Plan{Target: "cluster", Baseline: ModeBaseline, Options: o, Mesh: MeshInfo{MeshType: p.Options.Mesh},
		Observer: NewClusterObserver(cs, env.REST, p, log)}
	var dropped []string
	var failed []string
	var why []error
	for name, reason := range p.Skipped {
		dropped = append(dropped, fmt.Sprintf("mode %s not run: %s", name, reason))
	}
	for _, cm := range p.Modes {
		m := cm.Mode
		m.Loader = SplitLoader{Parts: loaders[cm.Loadgen]}
		if cm.PodIPOf != nil {
			ip, err := podIP(ctx, cs, cm.Namespace, cm.PodIPOf)
			if err != nil {
				return nil, fmt.Errorf("mode %s: %w", m.Name, err)
			}
			m.URL = strings.Replace(m.URL, PodIPHost, ip, 1)
		}
		if err := preflight(ctx, m, o); err != nil {
			failed, why = append(failed, m.Name), append(why, fmt.Errorf("mode %s cannot run: %w", m.Name, err))
			continue
		}
		plan.Modes = append(plan.Modes, m)
		if m.Name == ModeBaselineAA {
			plan.AAMode = m.Name
		}
	}
	if len(failed) > 0 {
		return nil, cannotRun(failed, why)
	}
	plan.Env, _ = clusterEnv(ctx, cs)
	s, err := Execute(ctx, dir, plan, nil, log)
	if err != nil {
		return nil, err
	}
	if len(dropped) > 0 {
		s.Violations = append(s.Violations, dropped...)
		return s, WriteSummary(dir, s)
	}
	return s, nil
}

// cannotRun fails the bench before any attack, naming every mode whose
// target does not answer and how to go on without it.
func cannotRun(modes []string, why []error) error {
	if slices.Contains(modes, ModeBaseline) {
		return fmt.Errorf("%w\nevery overhead is measured against the baseline: fix it first", errors.Join(why...))
	}
	return fmt.Errorf("%w\nfix the modes above, or leave them out with --exclude %s", errors.Join(why...), strings.Join(modes, ","))
}

// preflight sends a few requests of the mode through each of its loaders
// and wants every one to answer 200 with the body size asked for.
func preflight(ctx context.Context, m Mode, o Options) error {
	width := loaderWidth(m.Loader)
	spec := AttackSpec{Name: m.Name + "-preflight", Method: m.Method, URL: m.URL, Header: m.Header, Rate: 5 * width,
		Duration: Duration(time.Second), Connections: width, Timeout: Duration(5 * time.Second)}
	var bad []string
	n := 0
	err := m.Loader.Attack(ctx, spec, func(r *vegeta.Result) error {
		n++
		if r.Code != http.StatusOK || (o.BodyBytes > 0 && r.BytesIn != uint64(o.BodyBytes)) {
			bad = append(bad, fmt.Sprintf("%s: %d %q (%d bytes)", r.Attack, r.Code, r.Error, r.BytesIn))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 || len(bad) > 0 {
		return fmt.Errorf("%s answered %d requests, failures %v; check its route and backend", m.URL, n, bad)
	}
	return nil
}

func startLoadgen(ctx context.Context, cs kubernetes.Interface, cfg *rest.Config, pod *corev1.Pod, log *slog.Logger) (func(), string, error) {
	pods := cs.CoreV1().Pods(pod.Namespace)
	_ = pods.Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	if err := waitGone(ctx, cs, pod); err != nil {
		return nil, "", err
	}
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return nil, "", fmt.Errorf("create loadgen pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	cleanup := func() {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = pods.Delete(c, pod.Name, metav1.DeleteOptions{})
	}
	if err := waitPodReady(ctx, cs, pod.Namespace, pod.Name); err != nil {
		return cleanup, "", err
	}
	port, stop, err := kube.ForwardPort(ctx, cfg, pod.Namespace, pod.Name, LoadgenPort, 30*time.Second)
	if err != nil {
		return cleanup, "", err
	}
	log.Info("loadgen ready", "pod", pod.Namespace+"/"+pod.Name, "local", port)
	return func() { stop(); cleanup() }, fmt.Sprintf("http://127.0.0.1:%d", port), nil
}

func waitGone(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod) error {
	return poll(ctx, 2*time.Minute, func() (bool, string, error) {
		_, err := cs.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, "", nil
		}
		return false, fmt.Sprintf("old pod %s/%s still terminating", pod.Namespace, pod.Name), nil
	})
}

func waitPodReady(ctx context.Context, cs kubernetes.Interface, ns, name string) error {
	return poll(ctx, 3*time.Minute, func() (bool, string, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		return podReady(p), fmt.Sprintf("pod %s/%s phase %s, conditions %v (is a node labelled %s=%s schedulable for it?)",
			ns, name, p.Status.Phase, p.Status.Conditions, cluster.LoadgenNodeLabel, cluster.LoadgenPool), nil
	})
}

func waitEcho(ctx context.Context, cs kubernetes.Interface, p ClusterPlan) error {
	for _, o := range p.AllObjects() {
		if d, ok := o.(*appsv1.Deployment); ok {
			if _, err := podIP(ctx, cs, d.Namespace, d.Spec.Selector.MatchLabels); err != nil {
				return fmt.Errorf("echo %s/%s: %w", d.Namespace, d.Name, err)
			}
		}
	}
	return nil
}

// podIP waits for a ready pod matching sel in ns and returns its IP.
func podIP(ctx context.Context, cs kubernetes.Interface, ns string, sel map[string]string) (string, error) {
	var ip string
	err := poll(ctx, 3*time.Minute, func() (bool, string, error) {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(sel).String()})
		if err != nil {
			return false, "", err
		}
		for i := range list.Items {
			if podReady(&list.Items[i]) && list.Items[i].Status.PodIP != "" {
				ip = list.Items[i].Status.PodIP
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("no ready pod matches %v in namespace %s (%d found)", sel, ns, len(list.Items)), nil
	})
	return ip, err
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// poll calls check every second until it is done, fails, or the timeout
// passes; the timeout error carries check's last "not yet" reason.
func poll(ctx context.Context, timeout time.Duration, check func() (bool, string, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		done, why, err := check()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %s: %w", timeout, why, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// clusterEnv reads node facts (SMP EnvironmentConfig) from the API.
func clusterEnv(ctx context.Context, cs kubernetes.Interface) (Env, error) {
	var env Env
	if v, err := cs.Discovery().ServerVersion(); err == nil {
		env.KubernetesVersion = v.GitVersion
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return env, err
	}
	for _, n := range nodes.Items {
		role := "worker"
		if n.Labels[cluster.LoadgenNodeLabel] == cluster.LoadgenPool {
			role = "loadgen"
		} else if _, cp := n.Labels["node-role.kubernetes.io/control-plane"]; cp {
			role = "control-plane"
		}
		env.Nodes = append(env.Nodes, Node{
			Name: n.Name, Role: role, OS: n.Status.NodeInfo.OperatingSystem, Arch: n.Status.NodeInfo.Architecture,
			KernelVersion: n.Status.NodeInfo.KernelVersion, Cores: int(n.Status.Capacity.Cpu().Value()),
			MemMB: n.Status.Capacity.Memory().Value() >> 20,
		})
	}
	return env, nil
}
