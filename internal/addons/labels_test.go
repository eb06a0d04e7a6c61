package addons

import (
	"bytes"
	"testing"

	"helm.sh/helm/v4/pkg/postrenderer"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshgate/meshgate/fixtures"
)

func TestRunLabelerLabelsEveryObjectAndNothingElse(t *testing.T) {
	in := bytes.NewBufferString(`apiVersion: v1
kind: ServiceAccount
metadata:
  name: a
---
# a comment-only document
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: b
  labels:
    app.kubernetes.io/managed-by: Helm
    app: b
spec:
  selector:
    matchLabels:
      app: b
  template:
    metadata:
      labels:
        app: b
`)
	out, err := runLabeler{runID: "r1"}.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := DecodeYAML(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 {
		t.Fatalf("%d objects out, want 2", len(objs))
	}
	for _, o := range objs {
		if o.GetLabels()[fixtures.LabelRun] != "r1" {
			t.Errorf("%s %s lacks the run label: %v", o.GetKind(), o.GetName(), o.GetLabels())
		}
	}
	dep := objs[1]
	if dep.GetLabels()[fixtures.LabelManagedBy] != "Helm" || dep.GetLabels()["app"] != "b" {
		t.Errorf("chart labels changed: %v", dep.GetLabels())
	}
	sel, _, _ := unstructured.NestedStringMap(dep.Object, "spec", "selector", "matchLabels")
	tmpl, _, _ := unstructured.NestedStringMap(dep.Object, "spec", "template", "metadata", "labels")
	if len(sel) != 1 || len(tmpl) != 1 {
		t.Errorf("selector %v or template labels %v touched", sel, tmpl)
	}
}

type appendRenderer string

func (a appendRenderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	return bytes.NewBufferString(in.String() + string(a)), nil
}

func TestPostRenderersRunInOrderAndSkipNil(t *testing.T) {
	for _, tc := range []struct {
		name string
		all  []postrenderer.PostRenderer
		want string
	}{
		{"ours only", []postrenderer.PostRenderer{appendRenderer("a"), nil}, "xa"},
		{"ours then the user's", []postrenderer.PostRenderer{appendRenderer("a"), appendRenderer("b")}, "xab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := postRenderers(tc.all...).Run(bytes.NewBufferString("x"))
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("got %q, want %q", out, tc.want)
			}
		})
	}
}
