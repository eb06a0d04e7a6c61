package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseLinesAndLists(t *testing.T) {
	in := `# leading comment
apiVersion: v1
kind: Service
metadata: {name: a, namespace: ns}
---
---
# empty document above
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Service
    metadata: {name: b, namespace: ns}
  - apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: c
      namespace: ns
---
{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}
`
	objs, err := Parse("in.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		ref  string
		line int
	}{{"Service/ns/a", 2}, {"Service/ns/b", 11}, {"Deployment/ns/c", 14}, {"Namespace/ns", 20}}
	if len(objs) != len(want) {
		t.Fatalf("got %d objects, want %d", len(objs), len(want))
	}
	for i, w := range want {
		if got := objs[i].Ref(); got.String() != w.ref || got.Line != w.line || got.File != "in.yaml" {
			t.Errorf("object %d: got %s at %s:%d, want %s at line %d", i, got, got.File, got.Line, w.ref, w.line)
		}
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		name, in string
		// YAML syntax errors carry the line yaml.v3 reports: that of the
		// structure being parsed, which can be a line or two before the typo,
		// counted from the start of the stream, not of the document.
		minLine, maxLine int
		msg              string
	}{
		{"bad indentation", "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n namespace: b\n", 3, 5, "invalid YAML"},
		{"unclosed flow", "apiVersion: v1\nkind: Service\nmetadata: {name: a\n", 2, 4, "invalid YAML"},
		{"second document broken", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkind: [\n", 5, 6, "invalid YAML"},
		{"scalar document", "just text\n", 1, 1, "not a Kubernetes object"},
		{"no kind", "apiVersion: v1\nmetadata: {name: a}\n", 1, 1, "no apiVersion or kind"},
		{"no name", "apiVersion: v1\nkind: Service\nmetadata: {}\n", 1, 1, "no metadata.name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tc.in))
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("want *InputError, got %v", err)
			}
			if ie.File != "bad.yaml" || ie.Line < tc.minLine || ie.Line > tc.maxLine || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %q (line %d), want bad.yaml line %d..%d containing %q", err, ie.Line, tc.minLine, tc.maxLine, tc.msg)
			}
			if !strings.Contains(err.Error(), "bad.yaml:") {
				t.Fatalf("error does not start with file:line: %q", err)
			}
		})
	}
}

func TestLoadPathsFoldersAndStdin(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, s string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b/svc.yml", "apiVersion: v1\nkind: Service\nmetadata: {name: b, namespace: x}\n")
	write("a.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: x}\n")
	write("notes.txt", "not yaml: [")
	write(".git/x.yaml", "broken: [")
	objs, err := LoadPaths([]string{dir, "-"}, strings.NewReader("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.Ref().String()+"@"+filepath.Base(o.Source.File))
	}
	want := "Service/x/a@a.yaml Service/x/b@svc.yml Namespace/x@" + StdinName
	if strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	if _, err := LoadPaths([]string{filepath.Join(dir, "missing")}, nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing path: got %v", err)
	}
}

// FuzzParse: any input either parses into named, located objects or fails
// with an InputError; it never panics.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "testdata", "rules", "*.yaml"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Service, metadata: {name: a}}]\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("---\n--- !!binary\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := Parse("fuzz.yaml", data)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error is not an InputError: %v", err)
			}
			return
		}
		for _, o := range objs {
			if o.Kind == "" || o.APIVersion == "" || o.Name == "" || o.Source.Line < 1 {
				t.Fatalf("object without kind, name or line: %+v", o.Ref())
			}
		}
	})
}

func TestLoadSkipsNonManifestsInFolders(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"values.yaml":        "replicas: 2\nimage: {tag: x}\n",
		"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [svc.yaml]\n",
		"empty.yaml":         "# nothing\n",
		"svc.yaml":           "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: x}\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	objs, skipped, err := Load([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].Name != "a" || len(skipped) != 3 {
		t.Fatalf("got %d objects, skipped %v; want the Service and 3 skipped files", len(objs), skipped)
	}
	// Named explicitly, a file without objects is bad input.
	if _, _, err := Load([]string{filepath.Join(dir, "values.yaml")}, nil); err == nil {
		t.Fatal("values.yaml named with -f: want an error")
	}
	// A broken manifest in a folder is still an error.
	if err := os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("kind: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load([]string{dir}, nil); err == nil || !strings.Contains(err.Error(), "broken.yaml") {
		t.Fatalf("broken file in folder: got %v", err)
	}
}

// A folder with Chart.yaml is a Helm chart: its templates are never parsed
// as manifests; without a renderer the error says how to render it.
func TestLoadChartFolders(t *testing.T) {
	root := t.TempDir()
	chart := filepath.Join(root, "charts", "shop")
	files := map[string]string{
		filepath.Join(chart, "Chart.yaml"):          "apiVersion: v2\nname: shop\nversion: 0.1.0\n",
		filepath.Join(chart, "templates", "s.yaml"): "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\n",
		filepath.Join(root, "ns.yaml"):              "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
	}
	for name, body := range files {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{chart, root} {
		_, _, err := Load([]string{p}, nil)
		var ie *InputError
		if !errors.As(err, &ie) || ie.File != chart || !strings.Contains(err.Error(), "helm template NAME "+chart) {
			t.Errorf("Load(%s) = %v; want an input error naming the chart and helm template", p, err)
		}
	}
	var rendered []string
	render := func(dir string) ([]byte, error) {
		rendered = append(rendered, dir)
		return []byte("apiVersion: v1\nkind: Service\nmetadata: {name: shop}\n"), nil
	}
	objs, _, err := LoadCharts([]string{root}, nil, render)
	if err != nil {
		t.Fatal(err)
	}
	if len(rendered) != 1 || rendered[0] != chart || len(objs) != 2 || objs[0].Source.File != chart+" (rendered)" {
		t.Errorf("rendered %v, objects %d (first from %q); want the chart rendered once beside ns.yaml", rendered, len(objs), objs[0].Source.File)
	}
}
