package addons

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/internal/cluster"
)

// Timeouts of the install steps; each wait names what was not ready.
type Timeouts struct {
	CRDs, Mesh, Kong time.Duration
}

// DefaultTimeouts suit a kind cluster pulling images for the first time.
var DefaultTimeouts = Timeouts{CRDs: time.Minute, Mesh: 6 * time.Minute, Kong: 6 * time.Minute}

// FieldOwner is meshgate's server-side apply field manager.
const FieldOwner = "meshgate"

// Client builds a controller-runtime client for env with the core and CRD
// types registered (everything else is unstructured).
func Client(env *cluster.Env) (client.Client, error) {
	if env.REST == nil {
		return nil, errors.New("env has no REST config; create or select the cluster first")
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return client.New(env.REST, client.Options{Scheme: scheme})
}

// GatewayAPICRDs returns the embedded standard-channel CRDs, one document each.
func GatewayAPICRDs() ([]*unstructured.Unstructured, error) {
	files, err := fs.Glob(gatewayAPICRDs, "gatewayapi/*.yaml")
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, f := range files {
		data, err := gatewayAPICRDs.ReadFile(f)
		if err != nil {
			return nil, err
		}
		objs, err := DecodeYAML(data)
		if err != nil {
			return nil, fmt.Errorf("embedded %s: %w", path.Base(f), err)
		}
		out = append(out, objs...)
	}
	return out, nil
}

// DecodeYAML splits a multi-document YAML stream into objects, skipping
// empty documents.
func DecodeYAML(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for i := 0; ; i++ {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(obj) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
}

// InstallGatewayAPICRDs applies the embedded Gateway API CRDs (server-side)
// and waits until each is established. KIC needs them before it starts.
func InstallGatewayAPICRDs(t Timeouts) cluster.Step {
	return cluster.Step{Name: "gateway-api-crds", Run: func(ctx context.Context, env *cluster.Env) error {
		c, err := Client(env)
		if err != nil {
			return err
		}
		crds, err := GatewayAPICRDs()
		if err != nil {
			return err
		}
		before, err := crdNames(ctx, c)
		if err != nil {
			return err
		}
		defer recordCreatedCRDs(ctx, env, c, before)
		var checks []Check
		for _, crd := range crds {
			if err := c.Patch(ctx, crd, client.Apply, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
				return fmt.Errorf("apply CRD %s: %w", crd.GetName(), err)
			}
			checks = append(checks, CRDEstablished(c, crd.GetName()))
		}
		return Wait(ctx, env.Logger(), "Gateway API CRDs", t.CRDs, checks...)
	}}
}

// KongNamespaceLabels are the labels of Kong's namespace: the run's, and the
// mesh's injection label.
func KongNamespaceLabels(mesh, runID string) map[string]string {
	l := map[string]string{fixtures.LabelManagedBy: fixtures.ManagedBy, fixtures.LabelRun: runID}
	switch mesh {
	case cluster.MeshKuma:
		l["kuma.io/sidecar-injection"] = "enabled"
	case cluster.MeshIstio:
		l["istio-injection"] = "enabled"
	case cluster.MeshIstioAmbient:
		// Kong enrolled in ambient: ztunnel on Kong's node captures its
		// upstream connections (to Pod IPs too) and wraps them in HBONE mTLS.
		l[LabelDataplaneMode] = AmbientProfile
	}
	return l
}

// CreateKongNamespace creates Kong's namespace labelled for injection before
// the mesh is installed, so the injection dry run has a namespace to use.
func CreateKongNamespace(mesh string) cluster.Step {
	return cluster.Step{Name: "kong-namespace", Run: func(ctx context.Context, env *cluster.Env) error {
		return ensureNamespace(ctx, env, cluster.KongNamespace, KongNamespaceLabels(mesh, env.RunID))
	}}
}

// ensureNamespace applies a namespace with labels (server-side, merging with
// labels others set). On an existing cluster a namespace this run created is
// recorded and deleted at Teardown.
func ensureNamespace(ctx context.Context, env *cluster.Env, name string, labels map[string]string) error {
	c, err := Client(env)
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
	}
	existed := c.Get(ctx, client.ObjectKey{Name: name}, &corev1.Namespace{}) == nil
	if err := c.Patch(ctx, ns, client.Apply, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("apply namespace %s with labels %v: %w", name, labels, err)
	}
	if !existed && env.Provider == cluster.ProviderExisting {
		env.Record(cluster.Created{Kind: "Namespace", Name: name})
		env.Defer("delete namespace "+name, func(ctx context.Context) error {
			return client.IgnoreNotFound(c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}))
		})
	}
	return nil
}

// KumaNamespaceLabels are the labels the kuma chart's pre-install hook would
// set on its namespace (kuma.io/sidecar-injection: "false" in 2.14; older
// charts used kuma.io/system-namespace): meshgate sets them itself, so no
// kubectl image is pulled at install.
func KumaNamespaceLabels(runID string) map[string]string {
	return map[string]string{
		fixtures.LabelManagedBy: fixtures.ManagedBy, fixtures.LabelRun: runID,
		"kuma.io/sidecar-injection": "false", "kuma.io/system-namespace": "true",
	}
}

// InstallKuma installs the kuma chart and waits until the control plane is
// available, the default Mesh exists and injection works in Kong's namespace.
func InstallKuma(m Matrix, o Options, t Timeouts) cluster.Step {
	return cluster.Step{Name: "kuma", Run: func(ctx context.Context, env *cluster.Env) error {
		o.Mesh = cluster.MeshKuma
		v, err := KumaValues(m, o)
		if err != nil {
			return err
		}
		r := release(m, ChartKuma, KumaRelease, KumaNamespace, v)
		r.Timeout, r.PostRenderer = t.Mesh, o.PostRenderer
		if err := ensureNamespace(ctx, env, KumaNamespace, KumaNamespaceLabels(env.RunID)); err != nil {
			return err
		}
		if err := applyRelease(ctx, env, NewHelm(env), r); err != nil {
			return err
		}
		c, err := Client(env)
		if err != nil {
			return err
		}
		mesh := o.KumaMesh
		if mesh == "" {
			mesh = DefaultMesh
		}
		return Wait(ctx, env.Logger(), "Kuma", t.Mesh,
			DeploymentAvailable(c, KumaNamespace, KumaCPName),
			KumaMeshPresent(c, mesh),
			SidecarInjected(c, cluster.KongNamespace, KumaSidecar, map[string]string{"kuma.io/mesh": mesh}))
	}}
}

// InstallIstio installs the base and istiod charts and waits until istiod is
// available and injection works in Kong's namespace.
func InstallIstio(m Matrix, o Options, t Timeouts) cluster.Step {
	return cluster.Step{Name: "istio", Run: func(ctx context.Context, env *cluster.Env) error {
		base, istiod, err := IstioValues(m, o)
		if err != nil {
			return err
		}
		labels := map[string]string{fixtures.LabelManagedBy: fixtures.ManagedBy, fixtures.LabelRun: env.RunID}
		if err := ensureNamespace(ctx, env, IstioNamespace, labels); err != nil {
			return err
		}
		h := NewHelm(env)
		rb := release(m, ChartIstioBase, IstioBase, IstioNamespace, base)
		ri := release(m, ChartIstiod, IstiodRelease, IstioNamespace, istiod)
		rb.Timeout, ri.Timeout = t.Mesh, t.Mesh
		rb.PostRenderer, ri.PostRenderer = o.PostRenderer, o.PostRenderer
		if err := applyRelease(ctx, env, h, rb); err != nil {
			return err
		}
		if err := applyRelease(ctx, env, h, ri); err != nil {
			return err
		}
		c, err := Client(env)
		if err != nil {
			return err
		}
		return Wait(ctx, env.Logger(), "Istio", t.Mesh,
			DeploymentAvailable(c, IstioNamespace, IstiodName),
			SidecarInjected(c, cluster.KongNamespace, IstioSidecar, nil))
	}}
}

// InstallKong installs the kong/ingress chart and waits for the controller
// and gateway Deployments. (That the admin API answers is checked over the
// port-forward the stack opens.)
func InstallKong(m Matrix, o Options, t Timeouts) cluster.Step {
	return cluster.Step{Name: "kong", Run: func(ctx context.Context, env *cluster.Env) error {
		v, err := KongValues(m, o)
		if err != nil {
			return err
		}
		r := release(m, ChartKong, cluster.KongRelease, cluster.KongNamespace, v)
		r.Timeout, r.PostRenderer = t.Kong, o.PostRenderer
		if err := applyRelease(ctx, env, NewHelm(env), r); err != nil {
			return err
		}
		c, err := Client(env)
		if err != nil {
			return err
		}
		return Wait(ctx, env.Logger(), "Kong", t.Kong,
			DeploymentAvailable(c, cluster.KongNamespace, cluster.KongGatewayName),
			DeploymentAvailable(c, cluster.KongNamespace, cluster.KongControllerName))
	}}
}

// MeshSteps are the install steps of a topology, in order.
func MeshSteps(m Matrix, o Options, t Timeouts) ([]cluster.Step, error) {
	steps := []cluster.Step{InstallGatewayAPICRDs(t), CreateKongNamespace(o.Mesh)}
	switch o.Mesh {
	case cluster.MeshKuma:
		steps = append(steps, InstallKuma(m, o, t))
	case cluster.MeshIstio:
		steps = append(steps, InstallIstio(m, o, t))
	case cluster.MeshIstioAmbient:
		steps = append(steps, InstallIstioAmbient(m, o, t))
	default:
		return nil, unknownMesh(o.Mesh)
	}
	steps = append(steps, InstallKong(m, o, t))
	if o.KongPlain {
		steps = append(steps, InstallKongPlain(m, o, t))
	}
	return steps, nil
}

// applyRelease installs or upgrades r. On an existing cluster, a release this
// run installed is uninstalled at Teardown (one it only upgraded is left),
// and so are the CRDs it brought that were not there before; on kind,
// deleting the cluster removes everything.
func applyRelease(ctx context.Context, env *cluster.Env, h *Helm, r Release) error {
	if env.Provider != cluster.ProviderExisting {
		_, err := h.Apply(ctx, r)
		return err
	}
	c, err := Client(env)
	if err != nil {
		return err
	}
	before, err := crdNames(ctx, c)
	if err != nil {
		return err
	}
	installed, err := h.Apply(ctx, r)
	// Helm never deletes a chart's crds/; the CRDs are removed after the
	// release (Teardown runs newest first), even when the install failed.
	recordCreatedCRDs(ctx, env, c, before)
	if installed {
		env.Defer("helm uninstall "+r.Namespace+"/"+r.Name, func(ctx context.Context) error {
			return h.Uninstall(ctx, r.Namespace, r.Name)
		})
		env.Record(cluster.Created{Kind: "HelmRelease", Namespace: r.Namespace, Name: r.Name})
	}
	return err
}

func crdNames(ctx context.Context, c client.Client) (map[string]bool, error) {
	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := c.List(ctx, &crds); err != nil {
		return nil, fmt.Errorf("list CRDs: %w", err)
	}
	names := map[string]bool{}
	for _, crd := range crds.Items {
		names[crd.Name] = true
	}
	return names, nil
}

// recordCreatedCRDs records, on an existing cluster, the CRDs there now that
// were not in before, and deletes them at Teardown: a CRD left behind keeps
// custom resources' API on the user's cluster and makes the next up see the
// mesh as installed. It looks even when ctx is cancelled (Ctrl-C mid-install).
func recordCreatedCRDs(ctx context.Context, env *cluster.Env, c client.Client, before map[string]bool) {
	if env.Provider != cluster.ProviderExisting {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	now, err := crdNames(ctx, c)
	if err != nil {
		env.Logger().Warn("cannot tell which CRDs this run created; they stay", "err", err)
		return
	}
	var created []string
	for name := range now {
		if !before[name] {
			created = append(created, name)
		}
	}
	slices.Sort(created)
	for _, name := range created {
		env.Record(cluster.Created{Kind: "CustomResourceDefinition", Name: name})
	}
	if len(created) == 0 {
		return
	}
	env.Defer(fmt.Sprintf("delete %d CRDs this run created", len(created)), func(ctx context.Context) error {
		return DeleteCRDs(ctx, env.Logger(), c, created...)
	})
}

// DeleteCRDs deletes CRDs by name and waits up to crdGoneWithin until they
// are gone (the API server first removes their custom resources); one
// already gone is not an error. A CRD still terminating after that is left to
// the API server, with a warning: its finalizer backs off for minutes when a
// CRD's storage is still initializing, as after a Ctrl-C seconds into an
// install ("storage is (re)initializing" in the API server's log).
func DeleteCRDs(ctx context.Context, log *slog.Logger, c client.Client, names ...string) error {
	var errs []error
	for _, name := range names {
		crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: name}}
		errs = append(errs, client.IgnoreNotFound(c.Delete(ctx, crd)))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	wait, cancel := context.WithTimeout(ctx, crdGoneWithin)
	defer cancel()
	var terminating []string
	for _, name := range names {
		for {
			err := c.Get(wait, client.ObjectKey{Name: name}, &apiextensionsv1.CustomResourceDefinition{})
			if apierrors.IsNotFound(err) {
				break
			}
			if wait.Err() != nil {
				terminating = append(terminating, name)
				break
			}
			select {
			case <-wait.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	if len(terminating) > 0 && log != nil {
		log.Warn("CRDs deleted but still terminating; the API server removes them", "crds", strings.Join(terminating, ", "), "waited", crdGoneWithin)
	}
	return ctx.Err()
}

const crdGoneWithin = time.Minute
