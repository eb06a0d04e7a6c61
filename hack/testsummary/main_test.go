package main

import (
	"bytes"
	"strings"
	"testing"
)

const stream = `{"Action":"run","Package":"m/a","Test":"TestOK"}
{"Action":"pass","Package":"m/a","Test":"TestOK","Elapsed":0.1}
{"Action":"run","Package":"m/a","Test":"TestBad"}
{"Action":"output","Package":"m/a","Test":"TestBad","Output":"    a_test.go:9: want 200, got 502\n"}
{"Action":"fail","Package":"m/a","Test":"TestBad","Elapsed":0.1}
{"Action":"run","Package":"m/a","Test":"TestNeedsDocker"}
{"Action":"output","Package":"m/a","Test":"TestNeedsDocker","Output":"    a_test.go:20: Docker is not reachable; start it\n"}
{"Action":"output","Package":"m/a","Test":"TestNeedsDocker","Output":"--- SKIP: TestNeedsDocker (0.00s)\n"}
{"Action":"skip","Package":"m/a","Test":"TestNeedsDocker","Elapsed":0}
{"Action":"fail","Package":"m/a","Elapsed":0.3}
{"Action":"output","Package":"m/b","Output":"b.go:3:1: syntax error\n"}
{"Action":"fail","Package":"m/b","Elapsed":0}
{"Action":"pass","Package":"m/c","Test":"TestFine"}
{"Action":"pass","Package":"m/c","Elapsed":0.1}
`

func TestSummaryNamesFailuresSkipsAndCounts(t *testing.T) {
	var out bytes.Buffer
	failed, err := summarize(strings.NewReader(stream), &out)
	if err != nil {
		t.Fatal(err)
	}
	if !failed {
		t.Error("a failing test and a broken build were reported as success")
	}
	got := out.String()
	for _, want := range []string{
		"want 200, got 502",      // the failing test's own output
		"b.go:3:1: syntax error", // the build failure
		"a TestNeedsDocker: Docker is not reachable; start it", // the skip with its reason
		"tests: 2 passed, 1 failed, 1 skipped",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}

func TestSummaryOfAGreenRunSucceeds(t *testing.T) {
	var out bytes.Buffer
	failed, err := summarize(strings.NewReader(`{"Action":"pass","Package":"m/c","Test":"TestFine"}
{"Action":"pass","Package":"m/c","Elapsed":0.1}
`), &out)
	if err != nil || failed {
		t.Fatalf("failed=%v err=%v on a green run:\n%s", failed, err, out.String())
	}
}

func TestSummaryOfAnUnfinishedPackageFails(t *testing.T) {
	var out bytes.Buffer
	failed, _ := summarize(strings.NewReader(`{"Action":"run","Package":"m/d","Test":"TestHangs"}
`), &out)
	if !failed {
		t.Errorf("a package go test never finished was reported as success:\n%s", out.String())
	}
}
