package bench

import (
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/fixtures"
	ambientfx "github.com/meshgate/meshgate/fixtures/ambient"
	istiofx "github.com/meshgate/meshgate/fixtures/istio"
)

// Ambient modes: the same echo pods behind a second Service that uses a
// waypoint, so the L7 hop is measured beside the ztunnel-only path (modes
// mesh and kong-mesh, which on istio-ambient cross two ztunnels and no
// Envoy).
const (
	ModeMeshWaypoint     = "mesh-waypoint"
	ModeKongMeshWaypoint = "kong-mesh-waypoint"
)

// waypointService is the echo Service bound to the bench waypoint.
func (p ClusterPlan) waypointService() string { return p.Options.EchoName + "-waypoint" }

// ambientModes are the waypoint modes of an istio-ambient plan.
func (p ClusterPlan) ambientModes(path string) []ClusterMode {
	o := p.Options
	return []ClusterMode{
		{Mode: Mode{Name: ModeMeshWaypoint, Description: "loadgen enrolled in ambient to the echo Service bound to a waypoint: ztunnel, waypoint (Envoy), ztunnel",
			URL: fmt.Sprintf("http://%s.%s.svc.cluster.local:%d%s", p.waypointService(), o.MeshNamespace, o.EchoPort, path)}, Loadgen: LoadgenMesh},
		{Mode: Mode{Name: ModeKongMeshWaypoint, Description: "loadgen to Kong enrolled in ambient (service-upstream) to the waypoint-bound echo Service",
			URL: o.KongMeshURL + "/bench/waypoint" + path}, Loadgen: LoadgenPlain},
	}
}

// ambientObjects are the waypoint Gateway (istiod deploys its Envoy), the
// waypoint-bound echo Service (same pods) and Kong's route to it.
func (p ClusterPlan) ambientObjects() []client.Object {
	o := p.Options
	_, svc := p.echo(o.MeshNamespace)
	svc.Name = p.waypointService()
	svc.Labels = map[string]string{fixtures.LabelManagedBy: fixtures.ManagedBy, ambientfx.LabelUseWaypoint: ambientfx.DefaultWaypoint}
	return []client.Object{p.Waypoint(), svc, p.ingress(o.MeshNamespace, "bench-waypoint", "/bench/waypoint", svc.Name, int32(o.EchoPort))}
}

// Waypoint is the bench namespace's waypoint (fixtures/ambient: class
// istio-waypoint, listener mesh 15008/HBONE; serves Services, the default).
func (p ClusterPlan) Waypoint() client.Object {
	o := ambientfx.Options{Options: istiofx.Options{Namespace: p.Options.MeshNamespace}, Waypoint: ambientfx.DefaultWaypoint}
	return ambientfx.Waypoint(o, false)
}

// ambientLoadgen enrolls the mesh loadgen pod by its own label (the cni
// chart's enablementSelectors take a pod label too); the attack API is
// reached by port-forward on the pod's loopback, which ztunnel's in-pod
// redirection does not capture.
func ambientLoadgen(labels map[string]string) {
	labels[ambientfx.LabelDataplaneMode] = ambientfx.DataplaneAmbient
}
