package addons

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/internal/cluster"
)

// Istio ambient mode: four releases in istio-system, in the order Istio's
// Helm guide installs them (base, istiod, cni, ztunnel). Names read from the
// charts at istio/istio 1.31.0-rc.0: the cni chart's DaemonSet is
// "istio-cni-node" (manifests/charts/istio-cni/templates/daemonset.yaml), the
// ztunnel chart's is its resourceName, default "ztunnel"
// (manifests/charts/ztunnel/values.yaml, templates/_helpers.tpl).
const (
	IstioCNIRelease = "istio-cni"
	ZtunnelRelease  = "ztunnel"
	IstioCNIName    = "istio-cni-node" // DaemonSet
	ZtunnelName     = "ztunnel"        // DaemonSet
	// AmbientProfile is the profile value of the istiod and cni charts
	// (files/profile-ambient.yaml: PILOT_ENABLE_AMBIENT, cni.ambient.enabled).
	AmbientProfile = "ambient"
	// LabelDataplaneMode enrolls a namespace (or pod) in ambient mode
	// (the cni chart's ambient.enablementSelectors).
	LabelDataplaneMode = "istio.io/dataplane-mode"
)

// AmbientValues are the values of the istiod, cni and ztunnel charts in
// ambient mode. Each image is given whole (the charts' `image` key: "If
// Image contains a "/", it will replace the entire `image` in the pod",
// ztunnel values.yaml; likewise istiod `image` and global.proxy.image): the
// ambient profile sets global.variant=distroless, which would otherwise turn
// every tag into <tag>-distroless, an image the matrix does not name (and
// --preload would not load).
func AmbientValues(m Matrix, o Options) (istiod, cni, ztunnel map[string]any, err error) {
	_, istiod, err = IstioValues(m, o)
	if err != nil {
		return nil, nil, nil, err
	}
	img := map[string]string{}
	for _, key := range []string{ImageIstioPilot, ImageIstioProxy, ImageIstioCNI, ImageZtunnel} {
		ref := Mirror(o.ImageMirror, m.Images[key])
		if _, _, err := splitImage(ref); err != nil {
			return nil, nil, nil, fmt.Errorf("images.%s: %w", key, err)
		}
		img[key] = ref
	}
	istiod["profile"] = AmbientProfile
	istiod["image"] = img[ImageIstioPilot]
	istiod["global"].(map[string]any)["proxy"] = map[string]any{"image": img[ImageIstioProxy]}
	// The sidecar-mode stats matcher is for sidecars; waypoints keep it too,
	// which is harmless. ztunnel's own metrics need no setting.
	cni = map[string]any{
		"profile": AmbientProfile,
		"image":   img[ImageIstioCNI],
	}
	if o.Kind {
		// kindnet writes its conflist into /etc/cni/net.d and its plugins
		// live in /opt/cni/bin: the chart's defaults (cniConfDir, cniBinDir
		// in istio-cni values.yaml), stated so a changed default shows here.
		// Istio's platform profiles have none for kind: none is needed.
		cni["cniConfDir"] = "/etc/cni/net.d"
		cni["cniBinDir"] = "/opt/cni/bin"
	}
	ztunnel = map[string]any{
		"image":          img[ImageZtunnel],
		"istioNamespace": IstioNamespace,
	}
	return istiod, cni, ztunnel, nil
}

// ambientReleases are the four releases of the ambient install, in order.
func ambientReleases(m Matrix, o Options) ([]Release, error) {
	istiod, cni, zt, err := AmbientValues(m, o)
	if err != nil {
		return nil, err
	}
	base, _, err := IstioValues(m, o)
	if err != nil {
		return nil, err
	}
	return []Release{
		release(m, ChartIstioBase, IstioBase, IstioNamespace, base),
		release(m, ChartIstiod, IstiodRelease, IstioNamespace, istiod),
		release(m, ChartIstioCNI, IstioCNIRelease, IstioNamespace, cni),
		release(m, ChartZtunnel, ZtunnelRelease, IstioNamespace, zt),
	}, nil
}

// InstallIstioAmbient installs base, istiod (profile ambient), cni (profile
// ambient) and ztunnel, and waits until istiod is available and the CNI
// agent and ztunnel run on every node they are scheduled to.
func InstallIstioAmbient(m Matrix, o Options, t Timeouts) cluster.Step {
	return cluster.Step{Name: cluster.MeshIstioAmbient, Run: func(ctx context.Context, env *cluster.Env) error {
		rels, err := ambientReleases(m, o)
		if err != nil {
			return err
		}
		// Created (and recorded) here, not by Helm, so down removes it.
		labels := map[string]string{fixtures.LabelManagedBy: fixtures.ManagedBy, fixtures.LabelRun: env.RunID}
		if err := ensureNamespace(ctx, env, IstioNamespace, labels); err != nil {
			return err
		}
		h := NewHelm(env)
		for _, r := range rels {
			r.Timeout, r.PostRenderer = t.Mesh, o.PostRenderer
			if err := applyRelease(ctx, env, h, r); err != nil {
				return err
			}
		}
		c, err := Client(env)
		if err != nil {
			return err
		}
		return Wait(ctx, env.Logger(), "Istio ambient", t.Mesh, AmbientChecks(c)...)
	}}
}

// AmbientChecks are what "ambient is ready" means: istiod available, the
// CNI agent and ztunnel DaemonSets ready on every node.
func AmbientChecks(c client.Client) []Check {
	return []Check{
		DeploymentAvailable(c, IstioNamespace, IstiodName),
		DaemonSetReady(c, IstioNamespace, IstioCNIName),
		DaemonSetReady(c, IstioNamespace, ZtunnelName),
	}
}

// DaemonSetReady holds when the DaemonSet's controller has seen its latest
// generation and every scheduled pod is updated and ready (at least one).
func DaemonSetReady(c client.Client, ns, name string) Check {
	return Check{Name: "daemonset " + ns + "/" + name + " ready", Ready: func(ctx context.Context) (bool, string, error) {
		var d appsv1.DaemonSet
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
			return false, "", err
		}
		s := d.Status
		seen := fmt.Sprintf("generation %d observed %d, desired %d updated %d ready %d", d.Generation, s.ObservedGeneration, s.DesiredNumberScheduled, s.UpdatedNumberScheduled, s.NumberReady)
		return s.ObservedGeneration >= d.Generation && s.DesiredNumberScheduled > 0 &&
			s.UpdatedNumberScheduled >= s.DesiredNumberScheduled && s.NumberReady >= s.DesiredNumberScheduled, seen, nil
	}}
}
