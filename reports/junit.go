package reports

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/onsi/ginkgo/v2/reporters"
)

// readJUnit parses one JUnit file as Ginkgo writes it (`--junit-report`): a
// <testsuites> root, or a single <testsuite> that is wrapped into one.
func readJUnit(path string) (reporters.JUnitTestSuites, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return reporters.JUnitTestSuites{}, fmt.Errorf("junit %s: %w", path, err)
	}
	return parseJUnit(path, data)
}

func parseJUnit(path string, data []byte) (reporters.JUnitTestSuites, error) {
	root, err := xmlRoot(data)
	if err != nil {
		return reporters.JUnitTestSuites{}, fmt.Errorf("junit %s: not well-formed XML (%w); a truncated file? re-run the suite with --junit-report", path, err)
	}
	var suites reporters.JUnitTestSuites
	switch root {
	case "testsuites":
		err = xml.Unmarshal(data, &suites)
	case "testsuite":
		var one reporters.JUnitTestSuite
		err = xml.Unmarshal(data, &one)
		suites = reporters.JUnitTestSuites{TestSuites: []reporters.JUnitTestSuite{one}}
		suites = recount(suites)
	default:
		return suites, fmt.Errorf("junit %s: root element <%s>, expected <testsuites> or <testsuite> (Ginkgo --junit-report output)", path, root)
	}
	if err != nil {
		return suites, fmt.Errorf("junit %s: %w", path, err)
	}
	return suites, nil
}

// xmlRoot returns the name of the root element after checking that the whole
// document is well formed (a truncated file fails here, not half-merged).
func xmlRoot(data []byte) (string, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	root, depth := "", 0
	for {
		tok, err := dec.Token()
		switch {
		case errors.Is(err, io.EOF) && root == "":
			return "", errors.New("no root element")
		case errors.Is(err, io.EOF) && depth != 0:
			return "", fmt.Errorf("unexpected end of file inside <%s>", root)
		case errors.Is(err, io.EOF):
			return root, nil
		case err != nil:
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = t.Name.Local
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
}

// recount sets the <testsuites> totals from its suites.
func recount(s reporters.JUnitTestSuites) reporters.JUnitTestSuites {
	s.Tests, s.Disabled, s.Errors, s.Failures, s.Time = 0, 0, 0, 0, 0
	for _, t := range s.TestSuites {
		s.Tests += t.Tests
		s.Disabled += t.Disabled
		s.Errors += t.Errors
		s.Failures += t.Failures
		s.Time += t.Time
	}
	return s
}

// mergeJUnit concatenates suites from several files into one document whose
// totals are the sums of the inputs' (each suite keeps its own counts). The
// run name prefixes each suite's name so suites of different runs stay apart.
func mergeJUnit(parts []junitPart) (reporters.JUnitTestSuites, JUnitTotals) {
	var merged reporters.JUnitTestSuites
	var totals JUnitTotals
	for _, p := range parts {
		for _, s := range p.suites.TestSuites {
			if p.run != "" && !strings.HasPrefix(s.Name, p.run+"/") {
				s.Name = p.run + "/" + s.Name
			}
			merged.TestSuites = append(merged.TestSuites, s)
			totals.Skipped += s.Skipped
		}
		merged.Tests += p.suites.Tests
		merged.Disabled += p.suites.Disabled
		merged.Errors += p.suites.Errors
		merged.Failures += p.suites.Failures
		merged.Time += p.suites.Time
	}
	totals.Suites = len(merged.TestSuites)
	totals.Tests, totals.Failures, totals.Errors, totals.Disabled = merged.Tests, merged.Failures, merged.Errors, merged.Disabled
	return merged, totals
}

type junitPart struct {
	run    string
	file   string
	suites reporters.JUnitTestSuites
}

func encodeJUnit(s reporters.JUnitTestSuites) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("encode merged junit: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// junitOutcome maps a Ginkgo JUnit testcase status to an Outcome.
func junitOutcome(tc reporters.JUnitTestCase) Outcome {
	switch tc.Status {
	case "passed":
		return Passed
	case "skipped", "pending":
		return Skipped
	case "":
		switch {
		case tc.Failure != nil || tc.Error != nil:
			return Failed
		case tc.Skipped != nil:
			return Skipped
		}
		return Passed
	default: // failed, panicked, interrupted, timedout, aborted
		return Failed
	}
}
