package reports

import (
	"strings"
	"testing"
)

// FuzzParseJUnit: any bytes give suites or an error naming the file, never
// a panic. Run longer with `go test ./reports -fuzz FuzzParseJUnit`.
func FuzzParseJUnit(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0"?><testsuites tests="1"><testsuite name="s" tests="1"><testcase name="c" status="passed"/></testsuite></testsuites>`))
	f.Add([]byte(`<testsuite name="one" tests="2" failures="1"><testcase name="a"><failure message="m"/></testcase><testcase name="b"/></testsuite>`))
	f.Add([]byte(`<testsuites><testsuite`))
	f.Add([]byte(`{"not":"xml"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseJUnit("fuzz.xml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.xml") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		for _, suite := range s.TestSuites {
			for _, tc := range suite.TestCases {
				_ = junitOutcome(tc)
			}
		}
	})
}
