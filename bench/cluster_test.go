package bench

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/meshgate/meshgate/internal/cluster"
)

func TestClusterPlanModes(t *testing.T) {
	tests := []struct {
		mesh    string
		modes   []string
		skipped []string
	}{
		{cluster.MeshIstio, []string{ModeBaseline, ModeBaselineAA, ModeKong, ModeMesh, ModeKongMesh, ModeKongMeshJWT}, nil},
		{cluster.MeshKuma, []string{ModeBaseline, ModeBaselineAA, ModeKong, ModeMesh, ModeKongMesh}, []string{ModeKongMeshJWT}},
	}
	for _, tt := range tests {
		t.Run(tt.mesh, func(t *testing.T) {
			p, err := NewClusterPlan(ClusterOptions{Mesh: tt.mesh})
			if err != nil {
				t.Fatal(err)
			}
			if got := p.ModeNames(); !slices.Equal(got, tt.modes) {
				t.Errorf("modes = %v, want %v", got, tt.modes)
			}
			for _, s := range tt.skipped {
				if p.Skipped[s] == "" {
					t.Errorf("mode %s left out without a reason", s)
				}
			}
			for _, m := range p.Modes {
				if !strings.HasSuffix(m.URL, "/bytes/1024") {
					t.Errorf("mode %s targets %s, want the 1 KB echo path", m.Name, m.URL)
				}
				wantLoadgen := LoadgenPlain
				if m.Name == ModeMesh {
					wantLoadgen = LoadgenMesh
				}
				if m.Loadgen != wantLoadgen {
					t.Errorf("mode %s starts from loadgen %s, want %s", m.Name, m.Loadgen, wantLoadgen)
				}
				isBaseline := m.Name == ModeBaseline || m.Name == ModeBaselineAA
				if isBaseline != (m.PodIPOf != nil && strings.Contains(m.URL, PodIPHost)) {
					t.Errorf("mode %s: only the baselines target a Pod IP (URL %s, selector %v)", m.Name, m.URL, m.PodIPOf)
				}
			}
		})
	}
	if _, err := NewClusterPlan(ClusterOptions{Mesh: "linkerd"}); err == nil || !strings.Contains(err.Error(), `"linkerd"`) {
		t.Errorf("unknown mesh: %v", err)
	}
}

func TestLoadgenPodsOnTheLoadNode(t *testing.T) {
	for _, mesh := range []string{cluster.MeshKuma, cluster.MeshIstio} {
		p, _ := NewClusterPlan(ClusterOptions{Mesh: mesh})
		pods := p.LoadgenPods()
		if names := podNames(pods); !slices.Equal(names, []string{"meshgate-loadgen-plain-0", "meshgate-loadgen-mesh-0"}) {
			t.Fatalf("%s: loadgen pods %v, want one plain and one mesh", mesh, names)
		}
		for _, pod := range pods {
			name := mesh + "/" + pod.Name
			if pod.Spec.NodeSelector[cluster.LoadgenNodeLabel] != cluster.LoadgenPool {
				t.Errorf("%s: nodeSelector %v does not pin it to the load node", name, pod.Spec.NodeSelector)
			}
			tolerates := slices.ContainsFunc(pod.Spec.Tolerations, func(tl corev1.Toleration) bool {
				return tl.ToleratesTaint(klog.Background(), &corev1.Taint{Key: cluster.LoadgenTaintKey, Value: "true", Effect: corev1.TaintEffectNoSchedule}, false)
			})
			if !tolerates {
				t.Errorf("%s: tolerations %v do not tolerate the load node's taint", name, pod.Spec.Tolerations)
			}
			c := pod.Spec.Containers[0]
			if c.Image != "meshgate/loadgen:dev" || c.Ports[0].ContainerPort != LoadgenPort || c.ReadinessProbe.HTTPGet.Path != HealthPath {
				t.Errorf("%s: container %+v", name, c)
			}
			meshed := pod.Labels["meshgate.io/loadgen"] == LoadgenMesh
			injected := pod.Labels["sidecar.istio.io/inject"] == "true" || pod.Labels["kuma.io/sidecar-injection"] == "enabled"
			if meshed != injected {
				t.Errorf("%s: meshed=%v but injection labels %v", name, meshed, pod.Labels)
			}
			if meshed && pod.Namespace != p.Options.MeshNamespace || !meshed && pod.Namespace != p.Options.Namespace {
				t.Errorf("%s: in namespace %s", name, pod.Namespace)
			}
		}
	}
}

func podNames(pods []*corev1.Pod) []string {
	var names []string
	for _, p := range pods {
		names = append(names, p.Name)
	}
	return names
}

func TestLoadgenPodsPerLoader(t *testing.T) {
	p, err := NewClusterPlan(ClusterOptions{Mesh: cluster.MeshIstio, Loaders: 3})
	if err != nil {
		t.Fatal(err)
	}
	pods := p.LoadgenPods()
	want := []string{"meshgate-loadgen-plain-0", "meshgate-loadgen-plain-1", "meshgate-loadgen-plain-2",
		"meshgate-loadgen-mesh-0", "meshgate-loadgen-mesh-1", "meshgate-loadgen-mesh-2"}
	if names := podNames(pods); !slices.Equal(names, want) {
		t.Fatalf("loadgen pods %v, want %v", names, want)
	}
	for i, pod := range pods {
		kind := pod.Labels["meshgate.io/loadgen"]
		if kind != []string{LoadgenPlain, LoadgenMesh}[i/3] || pod.Spec.NodeSelector[cluster.LoadgenNodeLabel] != cluster.LoadgenPool {
			t.Errorf("%s: kind %q, nodeSelector %v", pod.Name, kind, pod.Spec.NodeSelector)
		}
	}
	if _, err := NewClusterPlan(ClusterOptions{Mesh: cluster.MeshIstio, Loaders: -1}); err == nil || !strings.Contains(err.Error(), "--loaders is -1") {
		t.Errorf("negative loaders: %v", err)
	}
}
