package lint

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// sample is a run with findings of every severity, from files.
func sample(t *testing.T) Report {
	t.Helper()
	m := loadCase(t, "kuma-strict-base.yaml", "podip-kuma-auto.yaml", "bridge-seed-mesh-local.yaml", "ra-echo.yaml")
	return NewReport(m.Len(), Run(m))
}

func TestSARIFValidatesAgainstSchema(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "sarif", "sarif-2.1.0-rtm.5.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	live := sample(t)
	for i := range live.Findings { // live objects: logical locations only
		live.Findings[i].Object.Source = Source{}
		for j := range live.Findings[i].Related {
			live.Findings[i].Related[j].Source = Source{}
		}
	}
	cases := map[string]Report{"file mode": sample(t), "live mode": live, "no findings": NewReport(0, nil)}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := r.Write(&buf, FormatSARIF); err != nil {
				t.Fatal(err)
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(inst); err != nil {
				t.Fatalf("SARIF output does not validate: %v\n%s", err, buf.String())
			}
			var log struct {
				Version string `json:"version"`
				Runs    []struct {
					Tool struct {
						Driver struct {
							Rules []struct{ ID string } `json:"rules"`
						} `json:"driver"`
					} `json:"tool"`
					Results []struct {
						RuleID string `json:"ruleId"`
						Level  string `json:"level"`
					} `json:"results"`
				} `json:"runs"`
			}
			if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
				t.Fatal(err)
			}
			if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Tool.Driver.Rules) != len(Rules()) {
				t.Fatalf("want version 2.1.0, one run, %d rules; got %+v", len(Rules()), log)
			}
			if len(log.Runs[0].Results) != len(r.Findings) {
				t.Fatalf("got %d results, want %d", len(log.Runs[0].Results), len(r.Findings))
			}
		})
	}
}

// The schema check itself must be able to fail.
func TestSARIFSchemaRejectsBrokenLog(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "sarif", "sarif-2.1.0-rtm.5.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, _ := jsonschema.UnmarshalJSON(f)
	c := jsonschema.NewCompiler()
	_ = c.AddResource("s.json", doc)
	schema := c.MustCompile("s.json")
	bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"version":"2.1.0","runs":[{"results":[{"level":"fatal","message":{"text":"x"}}]}]}`))
	if err := schema.Validate(bad); err == nil {
		t.Fatal("schema accepted a run without a tool and with level fatal")
	}
}

func TestGoldenOutputs(t *testing.T) {
	r := sample(t)
	for _, f := range []Format{FormatText, FormatJSON, FormatSARIF} {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			if err := r.Write(&buf, f); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", "sample."+string(f))
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update once)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Fatalf("%s output differs from %s (go test ./internal/lint -run TestGoldenOutputs -update):\n%s", f, golden, buf.String())
			}
		})
	}
}

func TestJSONReportCounts(t *testing.T) {
	r := sample(t)
	var buf bytes.Buffer
	if err := r.Write(&buf, FormatJSON); err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Counts.Error != 1 || got.Counts.Warning != 1 || got.Counts.Info != 1 || len(got.Findings) != 3 {
		t.Fatalf("want 1 error (MG003), 1 warning (MG009), 1 info (MG002); got %+v", got.Counts)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.sarif")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteFileAtomic(path, func(w io.Writer) error {
		_, _ = w.Write([]byte("partial"))
		return os.ErrClosed
	})
	if err == nil {
		t.Fatal("want the writer's error")
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("failed write replaced the file: %q", b)
	}
	if err := WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write([]byte("new")); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Fatalf("got %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
}

func TestFileURI(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"deploy/a b.yaml":                       "deploy/a%20b.yaml",
		"./deploy//x.yaml":                      "deploy/x.yaml",
		filepath.Join(wd, "testdata", "x.yaml"): "testdata/x.yaml",
		StdinName:                               "stdin",
	}
	for in, want := range tests {
		if got := fileURI(in); got != want {
			t.Errorf("fileURI(%q) = %q, want %q", in, got, want)
		}
	}
}
