// Package lint finds gateway-to-mesh boundary mistakes (Kong in front of Kuma
// or Istio) in Kubernetes manifests or a live cluster. One Model holds the
// objects either source yields; Rules read only the Model, so file mode and
// live mode give the same findings for the same objects.
package lint

import (
	"fmt"
	"sort"
	"strings"

	"github.com/meshgate/meshgate/internal/lint/manifest"
)

// Object, Source and ObjectRef come from the manifest reader.
type (
	Object    = manifest.Object
	Source    = manifest.Source
	ObjectRef = manifest.ObjectRef
)

// Kind keys used by the model: group and kind, since Istio and Gateway API
// both have a Gateway.
const (
	kNamespace         = "/Namespace"
	kService           = "/Service"
	kPod               = "/Pod"
	kSecret            = "/Secret"
	kDeployment        = "apps/Deployment"
	kDaemonSet         = "apps/DaemonSet"
	kStatefulSet       = "apps/StatefulSet"
	kIngress           = "networking.k8s.io/Ingress"
	kIngressClass      = "networking.k8s.io/IngressClass"
	kHTTPRoute         = "gateway.networking.k8s.io/HTTPRoute"
	kGateway           = "gateway.networking.k8s.io/Gateway"
	kGatewayClass      = "gateway.networking.k8s.io/GatewayClass"
	kKongPlugin        = "configuration.konghq.com/KongPlugin"
	kKongConsumer      = "configuration.konghq.com/KongConsumer"
	kKongClusterPlugin = "configuration.konghq.com/KongClusterPlugin"
	kKongIngress       = "configuration.konghq.com/KongIngress"
	kKumaMesh          = "kuma.io/Mesh"
	kKumaMTP           = "kuma.io/MeshTrafficPermission"
	kKumaMeshTLS       = "kuma.io/MeshTLS"
	kKumaMeshRetry     = "kuma.io/MeshRetry"
	kKumaTrafficPerm   = "kuma.io/TrafficPermission"
	kPeerAuth          = "security.istio.io/PeerAuthentication"
	kRequestAuth       = "security.istio.io/RequestAuthentication"
	kAuthzPolicy       = "security.istio.io/AuthorizationPolicy"
	kDestRule          = "networking.istio.io/DestinationRule"
	kVirtualService    = "networking.istio.io/VirtualService"
)

// Model is the in-memory view of every object that matters to the rules.
type Model struct {
	byKind map[string][]*Object
	// IstioRootNamespace holds mesh-wide Istio policy (istio-system unless
	// the mesh config says otherwise).
	IstioRootNamespace string
	// Duplicates names objects given twice; the later one wins, as with
	// kubectl apply.
	Duplicates []string
}

// NewModel indexes objects. As with kubectl apply, a later object with the
// same kind, namespace and name replaces an earlier one.
func NewModel(objs []*Object) *Model {
	m := &Model{byKind: map[string][]*Object{}, IstioRootNamespace: "istio-system"}
	pos := map[string]int{}
	for _, o := range objs {
		k := o.Group() + "/" + o.Kind
		id := k + "/" + o.Namespace + "/" + o.Name
		if i, ok := pos[id]; ok {
			prev := m.byKind[k][i]
			m.Duplicates = append(m.Duplicates, fmt.Sprintf("%s at %s replaces the one at %s", o.Ref(), o.Ref().Where(), prev.Ref().Where()))
			m.byKind[k][i] = o
			continue
		}
		pos[id] = len(m.byKind[k])
		m.byKind[k] = append(m.byKind[k], o)
	}
	for _, list := range m.byKind {
		sort.SliceStable(list, func(i, j int) bool {
			if list[i].Namespace != list[j].Namespace {
				return list[i].Namespace < list[j].Namespace
			}
			return list[i].Name < list[j].Name
		})
	}
	return m
}

// All returns the objects of one kind key (group/Kind).
func (m *Model) All(kind string) []*Object { return m.byKind[kind] }

// Get returns one object by kind key, namespace and name, or nil.
func (m *Model) Get(kind, ns, name string) *Object {
	for _, o := range m.byKind[kind] {
		if o.Namespace == ns && o.Name == name {
			return o
		}
	}
	return nil
}

// Len is the number of objects in the model.
func (m *Model) Len() int {
	n := 0
	for _, l := range m.byKind {
		n += len(l)
	}
	return n
}

// knowsNamespace reports whether the inputs say anything about ns: a
// Namespace object or any object in it. Rules that would claim "missing" use
// it so a partial input does not produce false alarms.
func (m *Model) knowsNamespace(ns string) bool {
	if m.Get(kNamespace, "", ns) != nil {
		return true
	}
	for _, list := range m.byKind {
		for _, o := range list {
			if o.Namespace == ns {
				return true
			}
		}
	}
	return false
}

// Field access on JSON-shaped content, shared with the manifest reader.
var (
	field  = manifest.Field
	str    = manifest.Str
	list   = manifest.List
	num    = manifest.Num
	strMap = manifest.StrMap
)

// selects reports whether every selector label is present in labels. An
// empty selector selects nothing here: callers handle "whole namespace".
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "enabled", "yes", "1":
		return true
	}
	return false
}
