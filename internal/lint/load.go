package lint

import (
	"io"

	"github.com/meshgate/meshgate/internal/lint/manifest"
)

// StdinName is how objects read from standard input (-f -) are located.
const StdinName = manifest.StdinName

// InputError is bad input (unreadable or unparseable file, not a Kubernetes
// object); the CLI exits 2 on it.
type InputError = manifest.InputError

// LoadPaths reads files, folders and "-" (stdin); see manifest.LoadPaths.
func LoadPaths(paths []string, stdin io.Reader) ([]*Object, error) {
	return manifest.LoadPaths(paths, stdin)
}

// RenderChart renders a Helm chart folder; see manifest.LoadCharts.
type RenderChart = manifest.RenderChart

// LoadCharts reads like LoadPaths, renders Helm chart folders with render
// and names the files skipped because they hold no Kubernetes object; see
// manifest.LoadCharts.
func LoadCharts(paths []string, stdin io.Reader, render RenderChart) ([]*Object, []string, error) {
	return manifest.LoadCharts(paths, stdin, render)
}

// Parse reads one multi-document YAML or JSON stream; see manifest.Parse.
func Parse(name string, data []byte) ([]*Object, error) { return manifest.Parse(name, data) }

// isClusterScoped: kinds that never get a namespace.
func isClusterScoped(kind string) bool {
	switch kind {
	case "Namespace", "Mesh", "GatewayClass", "IngressClass", "KongClusterPlugin", "ClusterRole", "ClusterRoleBinding",
		"CustomResourceDefinition", "PersistentVolume", "StorageClass", "Node", "PriorityClass", "APIService", "RuntimeClass",
		"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "ValidatingAdmissionPolicy",
		"ValidatingAdmissionPolicyBinding", "CSIDriver", "VolumeAttachment":
		return true
	}
	return false
}

// DefaultNamespace puts namespaced objects that name no namespace (Helm
// output, kustomize bases) into ns, as kubectl apply -n would ("default"
// when ns is empty).
func DefaultNamespace(objs []*Object, ns string) {
	if ns == "" {
		ns = "default"
	}
	for _, o := range objs {
		if o.Namespace == "" && !isClusterScoped(o.Kind) {
			o.Namespace = ns
		}
	}
}
