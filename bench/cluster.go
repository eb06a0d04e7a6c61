package bench

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/internal/cluster"
)

// Cluster modes, in Istio's sense: each a path from the load generator to
// the same echo backend image.
const (
	ModeKong        = "kong"
	ModeMesh        = "mesh"
	ModeKongMesh    = "kong-mesh"
	ModeKongMeshJWT = "kong-mesh-jwt"
)

// The load generator's attack API port in its pod.
const LoadgenPort = 8090

// loadgenAppName is the app.kubernetes.io/name of every loadgen pod.
const loadgenAppName = "meshgate-loadgen"

// Which loadgen pod a cluster mode attacks from.
const (
	LoadgenPlain = "plain" // no sidecar
	LoadgenMesh  = "mesh"  // with the mesh's sidecar, for the mesh mode
)

// ClusterOptions place the bench objects. Zero fields take the defaults in
// NewClusterPlan.
type ClusterOptions struct {
	Mesh          string // one of cluster.Meshes
	Namespace     string // plain namespace: baseline echo, plain loadgen, plain Kong's route
	MeshNamespace string // meshed namespace: echo and loadgen with sidecars
	EchoName      string // Deployment/Service name of the echo backend in both
	EchoPort      int    // container and Service port of the echo backend
	// KongPlainURL is a Kong outside the mesh (mode kong; default the proxy
	// of the plain Kong release, cluster.KongPlainRelease); KongMeshURL the
	// Kong in the mesh with the fix (kong-mesh, kong-mesh-jwt).
	KongPlainURL string
	KongMeshURL  string
	BodyBytes    int
	LoadgenImage string
	// Loaders is how many loadgen pods of each kind an attack is spread
	// over (--loaders; default 1).
	Loaders int
	// JWTValidFor is how long the token mode kong-mesh-jwt sends stays
	// valid (default 24h): it must outlast the bench.
	JWTValidFor time.Duration
}

// ClusterMode is a Mode plus where it starts and how its target is found.
type ClusterMode struct {
	Mode
	Loadgen string // LoadgenPlain or LoadgenMesh
	// PodIPOf, when set, means the URL's host is resolved at run time to the
	// Pod IP of a ready pod matching this selector in Namespace.
	PodIPOf   map[string]string
	Namespace string
	// Backend, for modes that enter the mesh, is where the mTLS proof is
	// read; Proxies are the proxies whose CPU and memory are sampled.
	Backend *Backend
	Proxies []ProxyRef
}

// ClusterPlan is what `meshgate bench --mesh` attacks.
type ClusterPlan struct {
	Options ClusterOptions
	Modes   []ClusterMode
	// Skipped names modes left out on this mesh, with the reason.
	Skipped map[string]string
	// jwks is the bench issuer's key set, inline in the RequestAuthentication
	// of mode kong-mesh-jwt.
	jwks string
	// plainKong: mode kong goes through the plain Kong release meshgate
	// installs (no --kong-plain-url), whose proxy cost is read.
	plainKong bool
}

// ModeNames lists the planned modes in order.
func (p ClusterPlan) ModeNames() []string {
	names := make([]string, len(p.Modes))
	for i, m := range p.Modes {
		names[i] = m.Name
	}
	return names
}

// Exclude leaves the named modes out of the plan at the user's request;
// a mode that cannot run fails the bench unless it is excluded. The
// baseline cannot be, and every name must be a mode of this mesh.
func (p *ClusterPlan) Exclude(names []string) error {
	var errs []error
	for _, n := range names {
		_, skipped := p.Skipped[n]
		switch {
		case n == ModeBaseline:
			errs = append(errs, fmt.Errorf("--exclude %s: every overhead is measured against the baseline; it cannot be left out", n))
		case !slices.Contains(p.ModeNames(), n) && !skipped:
			errs = append(errs, fmt.Errorf("--exclude %q: not a mode on %s; the modes are %s", n, p.Options.Mesh, strings.Join(p.ModeNames(), ", ")))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	p.Modes = slices.DeleteFunc(p.Modes, func(m ClusterMode) bool { return slices.Contains(names, m.Name) })
	return nil
}

// PodIPHost stands for a Pod IP in a ClusterMode URL until it is resolved.
const PodIPHost = "pod-ip"

// NewClusterPlan fills defaults and plans the modes for o.Mesh.
func NewClusterPlan(o ClusterOptions) (ClusterPlan, error) {
	if !slices.Contains(cluster.Meshes, o.Mesh) {
		return ClusterPlan{}, fmt.Errorf("--mesh %q: want one of %s", o.Mesh, strings.Join(cluster.Meshes, ", "))
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Namespace, "meshgate-bench")
	def(&o.MeshNamespace, "meshgate-bench-mesh")
	def(&o.EchoName, "echo-bench")
	def(&o.LoadgenImage, fixtures.LoadgenImage)
	if o.EchoPort == 0 {
		o.EchoPort = 8080
	}
	if o.BodyBytes == 0 {
		o.BodyBytes = 1024
	}
	if o.Loaders == 0 {
		o.Loaders = 1
	}
	if o.Loaders < 0 {
		return ClusterPlan{}, fmt.Errorf("--loaders is %d, want ≥ 1", o.Loaders)
	}
	if o.JWTValidFor == 0 {
		o.JWTValidFor = 24 * time.Hour
	}
	plainKong := o.KongPlainURL == ""
	def(&o.KongPlainURL, fmt.Sprintf("http://%s.%s.svc.cluster.local", cluster.KongPlainProxyService, cluster.KongPlainNamespace))
	def(&o.KongMeshURL, fmt.Sprintf("http://%s.%s.svc.cluster.local", cluster.KongProxyService, cluster.KongNamespace))

	path := fmt.Sprintf("/bytes/%d", o.BodyBytes)
	svc := func(ns string) string {
		return fmt.Sprintf("http://%s.%s.svc.cluster.local:%d%s", o.EchoName, ns, o.EchoPort, path)
	}
	p := ClusterPlan{Options: o, Skipped: map[string]string{}, plainKong: plainKong}
	p.Modes = []ClusterMode{
		{Mode: Mode{Name: ModeBaseline, Description: "loadgen (no sidecar) to the echo Pod IP: no mesh, no Kong",
			URL: fmt.Sprintf("http://%s:%d%s", PodIPHost, o.EchoPort, path)},
			Loadgen: LoadgenPlain, Namespace: o.Namespace, PodIPOf: map[string]string{"app.kubernetes.io/name": o.EchoName}},
		{Mode: Mode{Name: ModeBaselineAA, Description: "the baseline again, interleaved: A/A noise floor",
			URL: fmt.Sprintf("http://%s:%d%s", PodIPHost, o.EchoPort, path)},
			Loadgen: LoadgenPlain, Namespace: o.Namespace, PodIPOf: map[string]string{"app.kubernetes.io/name": o.EchoName}},
		{Mode: Mode{Name: ModeKong, Description: "loadgen to a Kong outside the mesh to the plain echo",
			URL: o.KongPlainURL + "/bench/plain" + path}, Loadgen: LoadgenPlain},
		{Mode: Mode{Name: ModeMesh, Description: "loadgen with a sidecar to the meshed echo Service: both sidecars, STRICT mTLS",
			URL: svc(o.MeshNamespace)}, Loadgen: LoadgenMesh},
		{Mode: Mode{Name: ModeKongMesh, Description: "loadgen to Kong in the mesh (with the fix) to the meshed echo, STRICT mTLS",
			URL: o.KongMeshURL + "/bench/mesh" + path}, Loadgen: LoadgenPlain},
	}
	if o.Mesh == cluster.MeshIstio {
		jwks, token, err := newBenchIssuer(o.JWTValidFor)
		if err != nil {
			return ClusterPlan{}, fmt.Errorf("mode %s: %w", ModeKongMeshJWT, err)
		}
		p.jwks = jwks
		p.Modes = append(p.Modes, ClusterMode{Mode: Mode{Name: ModeKongMeshJWT,
			Description: "kong-mesh to a second echo guarded by RequestAuthentication and AuthorizationPolicy (requestPrincipals, scope), with a token of the bench's own issuer",
			URL:         o.KongMeshURL + "/bench/jwt" + path, Header: http.Header{"Authorization": {"Bearer " + token}}}, Loadgen: LoadgenPlain})
	} else if o.Mesh == cluster.MeshIstioAmbient {
		p.Modes = append(p.Modes, p.ambientModes(path)...)
		p.Skipped[ModeKongMeshJWT] = "in ambient mode the JWT hop is the waypoint's; measured as the waypoint modes without a policy, the JWT filter's own cost is not measured yet"
	} else {
		p.Skipped[ModeKongMeshJWT] = "Kuma has no JWT policy in its open-source edition; the JWT hop is measured on Istio only"
	}
	p.paths()
	return p, nil
}

// LoadgenPods are the load generator pods, Options.Loaders of each kind
// (meshgate-loadgen-<kind>-<i>): without a sidecar and with one, all pinned
// to the node reserved for load (selected by its label, tolerating its
// taint), so the load generator never competes with the proxies it measures.
func (p ClusterPlan) LoadgenPods() []*corev1.Pod {
	var pods []*corev1.Pod
	for _, kind := range []string{LoadgenPlain, LoadgenMesh} {
		for i := range max(p.Options.Loaders, 1) {
			pods = append(pods, p.loadgenPod(kind, i))
		}
	}
	return pods
}

func (p ClusterPlan) loadgenPod(kind string, i int) *corev1.Pod {
	o := p.Options
	ns := o.Namespace
	labels := map[string]string{
		"app.kubernetes.io/name": loadgenAppName,
		loadgenKindLabel:         kind,
		fixtures.LabelManagedBy:  fixtures.ManagedBy,
	}
	annotations := map[string]string{}
	if kind == LoadgenMesh {
		ns = o.MeshNamespace
		port := strconv.Itoa(LoadgenPort)
		// The attack API is reached by port-forward; keep it out of the
		// sidecar so the orchestration never depends on mesh policy.
		switch o.Mesh {
		case cluster.MeshIstio:
			labels["sidecar.istio.io/inject"] = "true"
			annotations["traffic.sidecar.istio.io/excludeInboundPorts"] = port
		case cluster.MeshKuma:
			labels["kuma.io/sidecar-injection"] = "enabled"
			annotations["traffic.kuma.io/exclude-inbound-ports"] = port
		case cluster.MeshIstioAmbient:
			ambientLoadgen(labels)
		}
	} else {
		labels["sidecar.istio.io/inject"] = "false"
		labels["kuma.io/sidecar-injection"] = "disabled"
	}
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("meshgate-loadgen-%s-%d", kind, i), Namespace: ns, Labels: labels, Annotations: annotations},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{cluster.LoadgenNodeLabel: cluster.LoadgenPool},
			Tolerations: []corev1.Toleration{{
				Key: cluster.LoadgenTaintKey, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule,
			}},
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: ptr.To[int64](5),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To[int64](65532),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:            "loadgen",
				Image:           o.LoadgenImage,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Args:            []string{"--listen", fmt.Sprintf(":%d", LoadgenPort), "-v"},
				Ports:           []corev1.ContainerPort{{Name: "attack", ContainerPort: LoadgenPort, Protocol: corev1.ProtocolTCP}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
					Path: HealthPath, Port: intstr.FromInt32(LoadgenPort)}}, PeriodSeconds: 2},
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("1"),
					corev1.ResourceMemory: resource.MustParse("256Mi"),
				}},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					ReadOnlyRootFilesystem:   ptr.To(true),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
}
