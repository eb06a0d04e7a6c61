package bench

import (
	"slices"

	ambientfx "github.com/meshgate/meshgate/fixtures/ambient"
	"github.com/meshgate/meshgate/internal/addons"
	"github.com/meshgate/meshgate/internal/cluster"
)

// PodSet selects pods by label in one namespace.
type PodSet struct {
	Namespace string
	Labels    map[string]string
}

// ProxyRef is a proxy on a mode's path: the containers named Container in
// the pods of Pods, whose CPU and memory the cluster bench samples.
type ProxyRef struct {
	Component string
	Pods      PodSet
	Container string
}

// Backend is where a mode's requests end inside the mesh: the mTLS proof is
// read there. Workload is the Deployment's name, as ztunnel labels it.
type Backend struct {
	Pods     PodSet
	Workload string
}

// Labels the bench selects pods by, beyond its own: the Kong gateway's
// pods (the ingress chart's kong subchart aliased "gateway", Kong/charts
// ingress-0.24.0 Chart.yaml; kong-3.2.0 _helpers.tpl kong.selectorLabels:
// name, component and instance; the controller's pods share the instance)
// and its container (kong-3.2.0 templates/deployment.yaml), the
// ztunnel DaemonSet's pods (istio/istio 1.31.0-rc.0 manifests/charts/
// ztunnel templates/daemonset.yaml) and the waypoint Deployment istiod
// renders from the istiod chart's files/waypoint.yaml, whose pods carry the
// Gateway's name and run an istio-proxy container.
func gatewayPodsOf(release string) map[string]string {
	return map[string]string{cluster.KongGatewayLabel: release, "app.kubernetes.io/name": "gateway"}
}

const (
	kongProxyContainer = "proxy"
	ztunnelPodLabel    = "app"
	ztunnelContainer   = "istio-proxy"
	waypointPodLabel   = "gateway.networking.k8s.io/gateway-name"
	waypointContainer  = "istio-proxy"
	loadgenKindLabel   = "meshgate.io/loadgen"
	echoNameLabel      = "app.kubernetes.io/name"
)

// paths fills each planned mode's backend and proxies on this mesh.
func (p *ClusterPlan) paths() {
	for i := range p.Modes {
		p.Modes[i].Backend, p.Modes[i].Proxies = p.pathOf(p.Modes[i].Name)
	}
}

// pathOf is the backend and the proxies of one mode: Kong's container when
// the mode goes through Kong, then the client's and the backend's sidecars,
// or in ambient mode ztunnel and, for the waypoint modes, the waypoint.
// Modes that never enter the mesh have neither.
func (p ClusterPlan) pathOf(mode string) (*Backend, []ProxyRef) {
	o := p.Options
	if mode == ModeKong && p.plainKong {
		pods := PodSet{cluster.KongPlainNamespace, gatewayPodsOf(cluster.KongPlainRelease)}
		return nil, []ProxyRef{{ComponentKong, pods, kongProxyContainer}}
	}
	viaKong := slices.Contains([]string{ModeKongMesh, ModeKongMeshJWT, ModeKongMeshWaypoint}, mode)
	if !viaKong && mode != ModeMesh && mode != ModeMeshWaypoint {
		return nil, nil
	}
	name := o.EchoName
	if mode == ModeKongMeshJWT {
		name = p.jwtEcho()
	}
	b := &Backend{Pods: PodSet{o.MeshNamespace, map[string]string{echoNameLabel: name}}, Workload: name}
	var out []ProxyRef
	client, clientComponent := PodSet{o.MeshNamespace, map[string]string{loadgenKindLabel: LoadgenMesh}}, ComponentLoadgenSidecar
	if viaKong {
		client, clientComponent = PodSet{cluster.KongNamespace, gatewayPodsOf(cluster.KongRelease)}, ComponentKongSidecar
		out = append(out, ProxyRef{ComponentKong, client, kongProxyContainer})
	}
	if sidecar := sidecarOf(o.Mesh); sidecar != "" {
		return b, append(out, ProxyRef{clientComponent, client, sidecar}, ProxyRef{ComponentBackendSidecar, b.Pods, sidecar})
	}
	out = append(out, ProxyRef{ComponentZtunnel, PodSet{addons.IstioNamespace, map[string]string{ztunnelPodLabel: addons.ZtunnelName}}, ztunnelContainer})
	if mode == ModeMeshWaypoint || mode == ModeKongMeshWaypoint {
		out = append(out, ProxyRef{ComponentWaypoint, PodSet{o.MeshNamespace, map[string]string{waypointPodLabel: ambientfx.DefaultWaypoint}}, waypointContainer})
	}
	return b, out
}

// sidecarOf is the container the mesh's injector adds; ambient mode has none.
func sidecarOf(mesh string) string {
	switch mesh {
	case cluster.MeshKuma:
		return addons.KumaSidecar
	case cluster.MeshIstio:
		return addons.IstioSidecar
	}
	return ""
}
