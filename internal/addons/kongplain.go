package addons

import (
	"context"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/internal/cluster"
)

// StepKongPlain is the name of the step that installs the plain Kong.
const StepKongPlain = "kong-plain"

// Injection opt-outs, each the value its injector's webhook selectors leave
// out (on the namespace; the pod labels too, in case a namespace is
// relabelled):
//   - Kuma 2.14.3 templates/cp-webhooks-and-secrets.yaml:
//     namespace-kuma-injector.kuma.io selects namespaces whose
//     kuma.io/sidecar-injection is In [enabled, "true"];
//     pods-kuma-injector.kuma.io needs the pod labelled enabled.
//   - istiod 1.31 templates/mutatingwebhook.yaml: namespace.* selects
//     istio-injection In [enabled]; object.*, rev.* and auto.* need the
//     label absent; sidecar.istio.io/inject "false" is NotIn every
//     objectSelector.
//   - Ambient: no istio.io/dataplane-mode label at all (ztunnel and
//     istio-cni enrol only namespaces or pods labelled ambient).
var (
	kongPlainNamespaceOptOut = map[string]string{"kuma.io/sidecar-injection": "disabled", "istio-injection": "disabled"}
	kongPlainPodOptOut       = map[string]string{"kuma.io/sidecar-injection": "disabled", "sidecar.istio.io/inject": "false"}
)

// KongPlainNamespaceOptOut are the injection opt-out labels of the plain
// Kong's namespace.
func KongPlainNamespaceOptOut() map[string]string { return maps.Clone(kongPlainNamespaceOptOut) }

// KongPlainNamespaceLabels are the labels of the plain Kong's namespace:
// the run's, and every mesh's injection opt-out.
func KongPlainNamespaceLabels(runID string) map[string]string {
	l := map[string]string{fixtures.LabelManagedBy: fixtures.ManagedBy, fixtures.LabelRun: runID}
	maps.Copy(l, kongPlainNamespaceOptOut)
	return l
}

// KongPlainValues are the kong/ingress chart's values for the plain Kong:
// Kong's images and upstream keepalive as the meshed Kong's, but its own
// IngressClass and Gateway API controller name, a ClusterIP proxy (the
// load generator reaches it in the cluster; no NodePort to collide with the
// meshed Kong's), and pods labelled out of every mesh.
func KongPlainValues(m Matrix, o Options) (map[string]any, error) {
	v, err := KongValues(m, Options{ImageMirror: o.ImageMirror, KongKeepalivePoolSize: o.KongKeepalivePoolSize, ProxyServiceType: ProxyClusterIP})
	if err != nil {
		return nil, err
	}
	controller, gateway := v["controller"].(map[string]any), v["gateway"].(map[string]any)
	ic := controller["ingressController"].(map[string]any)
	ic["ingressClass"] = cluster.KongPlainClass
	// ingressController.env.<key> becomes CONTROLLER_<KEY> (kong chart
	// _helpers.tpl), the environment form of KIC's --gateway-api-controller-name.
	ic["env"] = map[string]any{"gateway_api_controller_name": cluster.KongPlainGatewayController}
	// The chart's default service account name, <release>-gateway.
	delete(gateway, "deployment")
	for _, part := range []map[string]any{controller, gateway} {
		labels := map[string]any{}
		for k, val := range kongPlainPodOptOut {
			labels[k] = val
		}
		part["podLabels"] = labels
	}
	return v, nil
}

// KongPlainRelease is the plain Kong's Helm release.
func KongPlainRelease(m Matrix, o Options) (Release, error) {
	v, err := KongPlainValues(m, o)
	if err != nil {
		return Release{}, err
	}
	return release(m, ChartKong, cluster.KongPlainRelease, cluster.KongPlainNamespace, v), nil
}

// CreateKongPlainNamespace creates the plain Kong's namespace labelled out
// of every mesh (recorded on an existing cluster, like Kong's).
func CreateKongPlainNamespace() cluster.Step {
	return cluster.Step{Name: "kong-plain-namespace", Run: func(ctx context.Context, env *cluster.Env) error {
		return ensureNamespace(ctx, env, cluster.KongPlainNamespace, KongPlainNamespaceLabels(env.RunID))
	}}
}

// InstallKongPlain installs the plain Kong, waits for its Deployments and
// checks that none of its pods got a sidecar.
func InstallKongPlain(m Matrix, o Options, t Timeouts) cluster.Step {
	return cluster.Step{Name: StepKongPlain, Run: func(ctx context.Context, env *cluster.Env) error {
		r, err := KongPlainRelease(m, o)
		if err != nil {
			return err
		}
		r.Timeout, r.PostRenderer = t.Kong, o.PostRenderer
		if err := CreateKongPlainNamespace().Run(ctx, env); err != nil {
			return err
		}
		if err := applyRelease(ctx, env, NewHelm(env), r); err != nil {
			return err
		}
		c, err := Client(env)
		if err != nil {
			return err
		}
		ns := cluster.KongPlainNamespace
		if err := Wait(ctx, env.Logger(), "plain Kong", t.Kong,
			DeploymentAvailable(c, ns, cluster.KongPlainGatewayName),
			DeploymentAvailable(c, ns, cluster.KongPlainControllerName)); err != nil {
			return err
		}
		return PodsWithoutSidecar(ctx, c, ns, map[string]string{cluster.KongGatewayLabel: cluster.KongPlainRelease})
	}}
}

// PodsWithoutSidecar fails when a pod matching sel in ns carries a mesh's
// sidecar: the plain Kong would then not be plain, and mode kong would
// measure a meshed path under its name.
func PodsWithoutSidecar(ctx context.Context, c client.Client, ns string, sel map[string]string) error {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels(sel)); err != nil {
		return fmt.Errorf("list pods %v in %s: %w", sel, ns, err)
	}
	for i := range pods.Items {
		names := ContainerNames(&pods.Items[i])
		for _, sidecar := range []string{KumaSidecar, IstioSidecar} {
			if slices.Contains(names, sidecar) {
				return fmt.Errorf("pod %s/%s has the mesh sidecar %s (containers %v): a mesh injects into namespace %s: check its labels (want %v) and the mesh's injector webhooks' selectors",
					ns, pods.Items[i].Name, sidecar, names, ns, kongPlainNamespaceOptOut)
			}
		}
	}
	return nil
}
