// Package manifest reads Kubernetes manifests (multi-document YAML or JSON,
// folders, stdin) into JSON-shaped objects that remember the file and line
// each document starts on. It imports no Kubernetes client code, so its fuzz
// target builds small.
package manifest

import (
	"fmt"
	"strings"
)

// Source says where an object came from: a file and the line its document
// starts on, or nothing for an object read from a cluster.
type Source struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
}

// Object is one Kubernetes object, kept as JSON-shaped data (maps, slices,
// strings, float64, bool) so manifests and live objects look the same.
type Object struct {
	APIVersion  string
	Kind        string
	Namespace   string
	Name        string
	Labels      map[string]string
	Annotations map[string]string
	Content     map[string]any
	Source      Source
}

// Group is the API group of the object ("" for core).
func (o *Object) Group() string {
	g, _, found := strings.Cut(o.APIVersion, "/")
	if !found {
		return ""
	}
	return g
}

// Ref names the object the way kubectl does: Kind/namespace/name.
func (o *Object) Ref() ObjectRef {
	return ObjectRef{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, Source: o.Source}
}

// ObjectRef identifies an object in a finding.
type ObjectRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Source
}

// String is Kind/namespace/name (Kind/name for cluster-scoped objects).
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// Where is file:line in file mode and the object reference in live mode.
func (r ObjectRef) Where() string {
	if r.File == "" {
		return r.String()
	}
	return fmt.Sprintf("%s:%d", r.File, r.Line)
}
