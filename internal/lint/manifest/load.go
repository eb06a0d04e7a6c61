package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// StdinName is how objects read from standard input (-f -) are located.
const StdinName = "<stdin>"

// InputError is bad input: a file that cannot be read or parsed, or a
// document that is not a Kubernetes object. The CLI exits 2 on it.
type InputError struct {
	File string
	Line int
	Msg  string
	Err  error
}

func (e *InputError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", loc, e.Msg, e.Err)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

func (e *InputError) Unwrap() error { return e.Err }

// LoadPaths reads every YAML or JSON file named in paths (folders are walked
// for *.yaml, *.yml and *.json; "-" reads stdin) and returns the objects in
// input order, each with the file and the line its document starts on.
func LoadPaths(paths []string, stdin io.Reader) ([]*Object, error) {
	objs, _, err := Load(paths, stdin)
	return objs, err
}

// Load is LoadPaths that also names the files it skipped: inside a folder,
// a file with no Kubernetes object at all (values files, kustomization.yaml,
// CI configs) is skipped, not an error. A file named explicitly must hold
// objects. A Helm chart (a folder with Chart.yaml) is refused with the way to
// render it; LoadCharts renders it instead.
func Load(paths []string, stdin io.Reader) (objs []*Object, skipped []string, err error) {
	return LoadCharts(paths, stdin, nil)
}

// RenderChart renders the Helm chart in dir to a multi-document YAML stream.
type RenderChart func(dir string) ([]byte, error)

// LoadCharts is Load that renders every Helm chart it meets (a folder given
// or walked that holds Chart.yaml) with render, and lints its output.
func LoadCharts(paths []string, stdin io.Reader, render RenderChart) (objs []*Object, skipped []string, err error) {
	for _, p := range paths {
		files, charts, err := expand(p)
		if err != nil {
			return nil, nil, err
		}
		for _, dir := range charts {
			got, err := loadChart(dir, render)
			if err != nil {
				return nil, nil, err
			}
			objs = append(objs, got...)
		}
		walked := len(files) > 1 || (len(files) == 1 && files[0] != p)
		for _, f := range files {
			data, name, err := readInput(f, stdin)
			if err != nil {
				return nil, nil, err
			}
			got, err := Parse(name, data)
			if walked && (errors.Is(err, ErrNotObject) || (err == nil && len(got) == 0)) {
				skipped = append(skipped, name)
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			objs = append(objs, got...)
		}
	}
	return objs, skipped, nil
}

// ChartFile marks a folder as a Helm chart.
const ChartFile = "Chart.yaml"

func loadChart(dir string, render RenderChart) ([]*Object, error) {
	if render == nil {
		return nil, &InputError{File: dir, Msg: "is a Helm chart (" + ChartFile + "): its templates are not manifests; render it first, e.g. `helm template NAME " + dir + " | meshgate lint -f -`"}
	}
	data, err := render(dir)
	if err != nil {
		return nil, &InputError{File: dir, Msg: "Helm chart does not render (fix the chart or its values)", Err: err}
	}
	return Parse(dir+" (rendered)", data)
}

// ErrNotObject marks a document that is not a Kubernetes object.
var ErrNotObject = errors.New("not a Kubernetes object")

// expand lists the manifest files under p and, separately, the Helm chart
// folders (p itself, or folders met while walking it; their files are not
// listed).
func expand(p string) (files, charts []string, err error) {
	if p == "-" {
		return []string{"-"}, nil, nil
	}
	info, err := os.Stat(p)
	if err != nil {
		return nil, nil, &InputError{File: p, Msg: "cannot read (give a YAML file, a folder of them, or - for stdin)", Err: err}
	}
	if !info.IsDir() {
		return []string{p}, nil, nil
	}
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if d.IsDir() && isChart(path) {
			charts = append(charts, path)
			return filepath.SkipDir
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				files = append(files, path)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, &InputError{File: p, Msg: "cannot walk folder", Err: err}
	}
	sort.Strings(files)
	if len(files) == 0 && len(charts) == 0 {
		return nil, nil, &InputError{File: p, Msg: "folder holds no *.yaml, *.yml or *.json files"}
	}
	return files, charts, nil
}

func isChart(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ChartFile))
	return err == nil
}

func readInput(f string, stdin io.Reader) ([]byte, string, error) {
	if f == "-" {
		if stdin == nil {
			return nil, StdinName, &InputError{File: StdinName, Msg: "no standard input"}
		}
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, StdinName, &InputError{File: StdinName, Msg: "cannot read", Err: err}
		}
		return data, StdinName, nil
	}
	data, err := os.ReadFile(f)
	if err != nil {
		return nil, f, &InputError{File: f, Msg: "cannot read", Err: err}
	}
	return data, f, nil
}

var yamlLine = regexp.MustCompile(`(?:^|: )(?:yaml: )?line (\d+):`)

// Parse splits a multi-document YAML (or JSON) stream into objects. Empty
// documents are skipped; "kind: List" documents contribute their items.
func Parse(name string, data []byte) ([]*Object, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var objs []*Object
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, yamlError(name, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue
		}
		got, err := fromNode(name, root)
		if err != nil {
			return nil, err
		}
		objs = append(objs, got...)
	}
}

func yamlError(name string, err error) error {
	line := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	return &InputError{File: name, Line: line, Msg: "invalid YAML (fix the syntax; `meshgate lint` reads Kubernetes manifests)", Err: err}
}

func fromNode(name string, n *yaml.Node) ([]*Object, error) {
	if n.Kind != yaml.MappingNode {
		return nil, &InputError{File: name, Line: n.Line, Msg: "document is not a Kubernetes object (expected a mapping with apiVersion, kind and metadata)", Err: ErrNotObject}
	}
	var raw any
	if err := n.Decode(&raw); err != nil {
		return nil, yamlError(name, err)
	}
	content, _ := Normalize(raw).(map[string]any)
	kind := Str(content, "kind")
	if strings.HasSuffix(kind, "List") {
		if items := itemNodes(n); items != nil {
			var objs []*Object
			for _, it := range items {
				got, err := fromNode(name, it)
				if err != nil {
					return nil, err
				}
				objs = append(objs, got...)
			}
			return objs, nil
		}
	}
	if isKustomize(content) {
		return nil, &InputError{File: name, Line: n.Line, Msg: "a kustomize file, not a Kubernetes object (lint `kustomize build` output with -f -)", Err: ErrNotObject}
	}
	o, err := NewObject(content)
	if err != nil {
		var nk *noKindError
		if errors.As(err, &nk) {
			return nil, &InputError{File: name, Line: n.Line, Msg: err.Error(), Err: ErrNotObject}
		}
		return nil, &InputError{File: name, Line: n.Line, Msg: err.Error()}
	}
	o.Source = Source{File: name, Line: n.Line}
	return []*Object{o}, nil
}

func itemNodes(n *yaml.Node) []*yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "items" && n.Content[i+1].Kind == yaml.SequenceNode {
			return n.Content[i+1].Content
		}
	}
	return nil
}

// NewObject builds an Object from JSON-shaped content (see normalize).
func NewObject(content map[string]any) (*Object, error) {
	o := &Object{
		APIVersion:  Str(content, "apiVersion"),
		Kind:        Str(content, "kind"),
		Namespace:   Str(content, "metadata", "namespace"),
		Name:        Str(content, "metadata", "name"),
		Labels:      StrMap(content, "metadata", "labels"),
		Annotations: StrMap(content, "metadata", "annotations"),
		Content:     content,
	}
	switch {
	case o.APIVersion == "" || o.Kind == "":
		return nil, &noKindError{}
	case o.Name == "" && Str(content, "metadata", "generateName") == "":
		return nil, fmt.Errorf("%s has no metadata.name (name every object so findings can point at it)", o.Kind)
	}
	if o.Name == "" {
		o.Name = Str(content, "metadata", "generateName")
	}
	return o, nil
}

type noKindError struct{}

func (*noKindError) Error() string {
	return "object has no apiVersion or kind (every document must be a Kubernetes object)"
}

func isKustomize(content map[string]any) bool {
	return strings.HasPrefix(Str(content, "apiVersion"), "kustomize.config.k8s.io/")
}

// Normalize turns decoded YAML or unstructured content into JSON shapes:
// string map keys, float64 numbers, RFC 3339 times.
func Normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			out[k] = Normalize(val)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			out[fmt.Sprint(k)] = Normalize(val)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = Normalize(val)
		}
		return out
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case uint64:
		return float64(t)
	case float32:
		return float64(t)
	case time.Time:
		return t.UTC().Format(time.RFC3339)
	}
	return v
}
