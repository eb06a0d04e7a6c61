package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"sigs.k8s.io/yaml"
)

// DiagnosticsOptions say what to collect and where.
type DiagnosticsOptions struct {
	// Dir receives everything, typically <RunDir>/diagnostics/<step>.
	Dir        string
	Namespaces []string
	// KumaCP names the Kuma control plane Service ("kuma-system/kuma-control-plane");
	// when set, each kuma-sidecar's config dump and stats are read through
	// its inspect API (the sidecar's Envoy admin is a Unix socket in 2.14).
	KumaCP string
	// KongAdmin names Kong's gateway pods ("kong", label selector, TLS admin
	// port): /status, /upstreams and each upstream's /targets are saved.
	KongNamespace, KongSelector string
	KongAdminPort               int
	// NodeLogs, when set, writes the cluster's node logs (kind CollectLogs).
	NodeLogs func(dir string) error
	// LogTail bounds each container log (default 2000 lines).
	LogTail int64
	Log     *slog.Logger
}

// CollectDiagnostics writes, under o.Dir: per namespace the events, the
// failing pods and workloads as YAML, every container's log (init and
// sidecar containers included, and the previous run after a restart), each
// sidecar's Envoy config dump and stats, Kong's admin /status and upstream
// targets, and the node logs. Everything is redacted. It keeps going past
// errors and returns them joined; a partial bundle beats none.
func CollectDiagnostics(ctx context.Context, cfg *rest.Config, o DiagnosticsOptions) error {
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	return collect(ctx, cs, cfg, o)
}

func collect(ctx context.Context, cs kubernetes.Interface, cfg *rest.Config, o DiagnosticsOptions) error {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.LogTail == 0 {
		o.LogTail = 2000
	}
	d := &diag{cs: cs, cfg: cfg, o: o}
	for _, ns := range o.Namespaces {
		d.namespace(ctx, ns)
	}
	if o.KongNamespace != "" {
		d.kong(ctx)
	}
	if o.NodeLogs != nil {
		if err := o.NodeLogs(filepath.Join(o.Dir, "nodes")); err != nil {
			d.fail(fmt.Errorf("node logs: %w", err))
		}
	}
	if len(d.errs) > 0 {
		_ = d.write("errors.txt", []byte(errors.Join(d.errs...).Error()+"\n"))
	}
	o.Log.Info("diagnostics written", "dir", o.Dir, "problems", len(d.errs))
	return errors.Join(d.errs...)
}

type diag struct {
	cs   kubernetes.Interface
	cfg  *rest.Config
	o    DiagnosticsOptions
	errs []error
}

func (d *diag) fail(err error) { d.errs = append(d.errs, err) }

// write stores redacted text atomically.
func (d *diag) write(rel string, data []byte) error {
	p := filepath.Join(d.o.Dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(RedactText(string(data))), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func (d *diag) writeObject(rel string, obj runtime.Object) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		d.fail(err)
		return
	}
	u := RedactObject(&unstructured.Unstructured{Object: m})
	y, err := yaml.Marshal(u.Object)
	if err != nil {
		d.fail(err)
		return
	}
	if err := d.write(rel, y); err != nil {
		d.fail(err)
	}
}

func (d *diag) namespace(ctx context.Context, ns string) {
	events, err := d.cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		d.fail(fmt.Errorf("events in %s: %w", ns, err))
	} else {
		_ = d.write(filepath.Join(ns, "events.txt"), []byte(FormatEvents(events.Items)))
	}
	pods, err := d.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		d.fail(fmt.Errorf("pods in %s: %w", ns, err))
		return
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if !podIsReady(p) {
			p.APIVersion, p.Kind = "v1", "Pod"
			d.writeObject(filepath.Join(ns, "failing", "pod-"+p.Name+".yaml"), p)
		}
		d.podLogs(ctx, p)
		d.envoy(ctx, p)
	}
	deps, err := d.cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		d.fail(fmt.Errorf("deployments in %s: %w", ns, err))
		return
	}
	for i := range deps.Items {
		dep := &deps.Items[i]
		want := int32(1)
		if dep.Spec.Replicas != nil {
			want = *dep.Spec.Replicas
		}
		if dep.Status.AvailableReplicas < want || dep.Status.ObservedGeneration < dep.Generation {
			dep.APIVersion, dep.Kind = "apps/v1", "Deployment"
			d.writeObject(filepath.Join(ns, "failing", "deployment-"+dep.Name+".yaml"), dep)
		}
	}
}

func (d *diag) podLogs(ctx context.Context, p *corev1.Pod) {
	statuses := map[string]corev1.ContainerStatus{}
	for _, s := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		statuses[s.Name] = s
	}
	for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
		d.containerLog(ctx, p, c.Name, false)
		if statuses[c.Name].RestartCount > 0 {
			d.containerLog(ctx, p, c.Name, true)
		}
	}
}

func (d *diag) containerLog(ctx context.Context, p *corev1.Pod, container string, previous bool) {
	tail := d.o.LogTail
	req := d.cs.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: container, Previous: previous, TailLines: &tail, Timestamps: true})
	data, err := req.DoRaw(ctx)
	if err != nil {
		data = []byte(fmt.Sprintf("no log: %v\n", err))
	}
	name := container + ".log"
	if previous {
		name = container + ".previous.log"
	}
	_ = d.write(filepath.Join(p.Namespace, "logs", p.Name, name), data)
}

// envoy saves config_dump and stats of the pod's sidecar, if it has one.
func (d *diag) envoy(ctx context.Context, p *corev1.Pod) {
	names := map[string]bool{}
	for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
		names[c.Name] = true
	}
	dir := filepath.Join(p.Namespace, "envoy", p.Name)
	switch {
	case names["kuma-sidecar"] && d.o.KumaCP != "":
		ns, svc, _ := strings.Cut(d.o.KumaCP, "/")
		mesh := p.Labels["kuma.io/mesh"]
		if mesh == "" {
			mesh = "default"
		}
		dp := p.Name + "." + p.Namespace
		for file, path := range map[string]string{"config_dump.json": "xds", "stats.txt": "stats", "clusters.txt": "clusters"} {
			data, err := d.cs.CoreV1().Services(ns).ProxyGet("http", svc, "5681", "/meshes/"+mesh+"/dataplanes/"+dp+"/"+path, nil).DoRaw(ctx)
			if err != nil {
				d.fail(fmt.Errorf("kuma inspect %s of dataplane %s: %w", path, dp, err))
				continue
			}
			_ = d.write(filepath.Join(dir, file), data)
		}
	case names["istio-proxy"]:
		for file, path := range map[string]string{"config_dump.json": "config_dump", "stats.txt": "stats", "clusters.txt": "clusters"} {
			out, err := d.exec(ctx, p, "istio-proxy", "pilot-agent", "request", "GET", path)
			if err != nil {
				d.fail(fmt.Errorf("istio-proxy %s of pod %s/%s: %w", path, p.Namespace, p.Name, err))
				continue
			}
			_ = d.write(filepath.Join(dir, file), out)
		}
	}
}

func (d *diag) exec(ctx context.Context, p *corev1.Pod, container string, cmd ...string) ([]byte, error) {
	req := d.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(p.Namespace).Name(p.Name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: cmd, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(d.cfg, "POST", req.URL())
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}); err != nil {
		return nil, fmt.Errorf("%s: %w (stderr: %s)", strings.Join(cmd, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// kong saves the admin API's /status, /upstreams and every upstream's
// targets (where Kong really sends traffic: Pod IPs or a Service) through
// the API server's pod proxy.
func (d *diag) kong(ctx context.Context) {
	pods, err := d.cs.CoreV1().Pods(d.o.KongNamespace).List(ctx, metav1.ListOptions{LabelSelector: d.o.KongSelector})
	if err != nil {
		d.fail(fmt.Errorf("kong pods: %w", err))
		return
	}
	port := fmt.Sprint(d.o.KongAdminPort)
	for _, p := range pods.Items {
		if !hasPort(&p, d.o.KongAdminPort) {
			continue
		}
		get := func(path string) ([]byte, error) {
			return d.cs.CoreV1().Pods(p.Namespace).ProxyGet("https", p.Name, port, path, nil).DoRaw(ctx)
		}
		dir := filepath.Join("kong", p.Name)
		for _, path := range []string{"/status", "/upstreams"} {
			data, err := get(path)
			if err != nil {
				d.fail(fmt.Errorf("kong admin %s on pod %s: %w", path, p.Name, err))
				continue
			}
			_ = d.write(filepath.Join(dir, strings.TrimPrefix(path, "/")+".json"), data)
			if path == "/upstreams" {
				for _, id := range UpstreamIDs(data) {
					t, err := get("/upstreams/" + id + "/targets")
					if err != nil {
						d.fail(fmt.Errorf("kong admin targets of upstream %s: %w", id, err))
						continue
					}
					_ = d.write(filepath.Join(dir, "targets", id+".json"), t)
				}
			}
		}
	}
}

func hasPort(p *corev1.Pod, port int) bool {
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if int(cp.ContainerPort) == port {
				return true
			}
		}
	}
	return false
}

// podIsReady reports the pod's Ready condition.
func podIsReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// FormatEvents renders events oldest first, one per line.
func FormatEvents(evs []corev1.Event) string {
	sort.SliceStable(evs, func(i, j int) bool { return eventTime(evs[i]).Before(eventTime(evs[j])) })
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%s %-7s %-22s %s/%s x%d: %s\n", eventTime(e).UTC().Format(time.RFC3339), e.Type, e.Reason,
			strings.ToLower(e.InvolvedObject.Kind), e.InvolvedObject.Name, max(e.Count, 1), strings.TrimSpace(e.Message))
	}
	return b.String()
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	default:
		return e.CreationTimestamp.Time
	}
}

// UpstreamIDs reads the ids out of a Kong admin /upstreams answer.
func UpstreamIDs(body []byte) []string {
	var page struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := yaml.Unmarshal(body, &page); err != nil {
		return nil
	}
	var ids []string
	for _, u := range page.Data {
		if u.ID != "" {
			ids = append(ids, u.ID)
		}
	}
	return ids
}
