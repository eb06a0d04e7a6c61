package lint

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/owenrumney/go-sarif/v2/sarif"
)

// Format is an output format.
type Format string

const (
	FormatText  Format = "text"
	FormatJSON  Format = "json"
	FormatSARIF Format = "sarif"
)

// ParseFormat accepts text, json or sarif.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatText, FormatJSON, FormatSARIF:
		return f, nil
	}
	return "", fmt.Errorf("format %q: want text, json or sarif", s)
}

// Report is what one lint run found, the JSON output's shape.
type Report struct {
	SchemaVersion int       `json:"schemaVersion"`
	Tool          string    `json:"tool"`
	Objects       int       `json:"objects"`
	Findings      []Finding `json:"findings"`
	Counts        Counts    `json:"counts"`
}

// Counts of findings per severity.
type Counts struct {
	Error   int `json:"error"`
	Warning int `json:"warning"`
	Info    int `json:"info"`
}

// NewReport counts the findings.
func NewReport(objects int, fs []Finding) Report {
	r := Report{SchemaVersion: 1, Tool: "meshgate lint", Objects: objects, Findings: fs}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	for _, f := range fs {
		switch f.Severity {
		case SeverityError:
			r.Counts.Error++
		case SeverityWarning:
			r.Counts.Warning++
		default:
			r.Counts.Info++
		}
	}
	return r
}

// Write renders the report in the given format.
func (r Report) Write(w io.Writer, f Format) error {
	switch f {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case FormatSARIF:
		return r.writeSARIF(w)
	}
	return r.writeText(w)
}

func (r Report) writeText(w io.Writer) error {
	for _, f := range r.Findings {
		if _, err := fmt.Fprintf(w, "%s: %s %s: %s\n", f.Object.Where(), f.Severity, f.RuleID, f.Message); err != nil {
			return err
		}
		for _, rel := range f.Related {
			fmt.Fprintf(w, "    related: %s (%s)\n", rel.String(), rel.Where())
		}
	}
	_, err := fmt.Fprintf(w, "%d objects, %d errors, %d warnings, %d info\n", r.Objects, r.Counts.Error, r.Counts.Warning, r.Counts.Info)
	return err
}

func sarifLevel(s Severity) string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	}
	return "note"
}

func (r Report) writeSARIF(w io.Writer) error {
	log, err := sarif.New(sarif.Version210)
	if err != nil {
		return fmt.Errorf("sarif: %w", err)
	}
	run := sarif.NewRunWithInformationURI("meshgate", "https://github.com/meshgate/meshgate")
	for _, rule := range Rules() {
		run.AddRule(rule.ID).
			WithName(ruleName(rule.Title)).
			WithShortDescription(sarif.NewMultiformatMessageString(rule.Title)).
			WithFullDescription(sarif.NewMultiformatMessageString(rule.Help)).
			WithTextHelp(rule.Help + "\nFact: " + rule.Fact).
			WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(sarifLevel(rule.Severity))).
			WithProperties(sarif.Properties{"fact": rule.Fact, "tags": []string{"kubernetes", "service-mesh", "kong"}})
	}
	for _, f := range r.Findings {
		res := run.CreateResultForRule(f.RuleID).
			WithLevel(sarifLevel(f.Severity)).
			WithMessage(sarif.NewTextMessage(f.Message))
		res.AddLocation(sarifLocation(f.Object))
		for _, rel := range f.Related {
			res.AddRelatedLocation(sarifLocation(rel))
		}
		res.WithPartialFingerPrints(map[string]any{"meshgate/v1": f.RuleID + ":" + f.Object.String()})
	}
	log.AddRun(run)
	return log.PrettyWrite(w)
}

func sarifLocation(ref ObjectRef) *sarif.Location {
	loc := sarif.NewLocation().WithLogicalLocations([]*sarif.LogicalLocation{
		sarif.NewLogicalLocation().WithName(ref.Name).WithFullyQualifiedName(ref.String()).WithKind(ref.Kind),
	})
	if ref.File != "" {
		loc.WithPhysicalLocation(sarif.NewPhysicalLocation().
			WithArtifactLocation(sarif.NewSimpleArtifactLocation(fileURI(ref.File))).
			WithRegion(sarif.NewSimpleRegion(max(ref.Line, 1), max(ref.Line, 1))))
	}
	return loc
}

// fileURI is a relative URI reference for a path (code scanning resolves it
// against the repository root); absolute paths under the working directory
// are made relative to it.
func fileURI(p string) string {
	if p == StdinName {
		return "stdin"
	}
	if filepath.IsAbs(p) {
		if wd, err := os.Getwd(); err == nil {
			if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
				p = rel
			}
		}
	}
	u := url.URL{Path: filepath.ToSlash(filepath.Clean(p))}
	return u.String()
}

func ruleName(title string) string {
	var b strings.Builder
	up := true
	for _, r := range title {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9':
			if up && r >= 'a' && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteRune(r)
			up = false
		default:
			up = true
		}
	}
	return b.String()
}

// WriteFileAtomic writes through a temporary file in the same folder and
// renames it into place, so readers never see a partial report.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// RulesTable prints ID, severity, title and fact per rule.
func RulesTable(w io.Writer) error {
	for _, r := range Rules() {
		if _, err := fmt.Fprintf(w, "%s  %-7s  %s\n        fact: %s\n", r.ID, r.Severity, r.Title, r.Fact); err != nil {
			return err
		}
	}
	return nil
}
