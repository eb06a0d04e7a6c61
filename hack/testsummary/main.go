// Command testsummary reads `go test -json` on stdin and prints what a person
// needs from a long run: each package with its counts, the output of every
// failing test, every skip with its reason, and one closing line
// "tests: N passed, N failed, N skipped". It exits 1 when anything failed,
// including a package that did not build.
//
//	go test -json ./... | go run ./hack/testsummary
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

func main() {
	failed, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type pkgResult struct {
	name                   string
	passed, failed, skipd  int
	result                 string // pass, fail, skip (no tests), or "" when go test never said
	elapsed                time.Duration
	output                 []string            // package-level output (build errors, panics)
	testOut                map[string][]string // per test
	failedTests, skipTests []string
}

func summarize(r io.Reader, w io.Writer) (bool, error) {
	pkgs := map[string]*pkgResult{}
	get := func(name string) *pkgResult {
		p := pkgs[name]
		if p == nil {
			p = &pkgResult{name: name, testOut: map[string][]string{}}
			pkgs[name] = p
		}
		return p
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Package == "" {
			fmt.Fprintln(w, sc.Text()) // not test2json: pass it through
			continue
		}
		p := get(e.Package)
		if e.Test == "" {
			switch e.Action {
			case "output":
				p.output = append(p.output, e.Output)
			case "pass", "fail", "skip":
				p.result = e.Action
				p.elapsed = time.Duration(e.Elapsed * float64(time.Second))
			}
			continue
		}
		switch e.Action {
		case "output":
			p.testOut[e.Test] = append(p.testOut[e.Test], e.Output)
		case "pass":
			p.passed++
		case "fail":
			p.failed++
			p.failedTests = append(p.failedTests, e.Test)
		case "skip":
			p.skipd++
			p.skipTests = append(p.skipTests, e.Test)
		}
	}
	if err := sc.Err(); err != nil {
		return true, fmt.Errorf("reading go test -json: %w", err)
	}
	return report(w, pkgs), nil
}

func report(w io.Writer, pkgs map[string]*pkgResult) bool {
	names := make([]string, 0, len(pkgs))
	for n := range pkgs {
		names = append(names, n)
	}
	sort.Strings(names)
	var passed, failed, skipped int
	var anyFailed bool
	var skips []string
	for _, n := range names {
		p := pkgs[n]
		passed, failed, skipped = passed+p.passed, failed+p.failed, skipped+p.skipd
		status := "ok  "
		if p.result == "fail" || p.result == "" || p.failed > 0 {
			status, anyFailed = "FAIL", true
		}
		if p.result == "skip" && p.passed+p.failed+p.skipd == 0 {
			continue // no test files
		}
		fmt.Fprintf(w, "%s %-60s %4d passed %3d failed %3d skipped  %s\n", status, n, p.passed, p.failed, p.skipd, p.elapsed.Round(10*time.Millisecond))
		for _, t := range p.failedTests {
			fmt.Fprintf(w, "--- FAIL %s %s\n%s", n, t, strings.Join(p.testOut[t], ""))
		}
		if status == "FAIL" && p.failed == 0 {
			fmt.Fprintf(w, "%s", strings.Join(p.output, "")) // build error, panic or timeout
		}
		for _, t := range p.skipTests {
			skips = append(skips, fmt.Sprintf("  %s %s: %s", strings.TrimPrefix(n, modulePrefix(names)), t, skipReason(p.testOut[t])))
		}
	}
	if len(skips) > 0 {
		fmt.Fprintf(w, "\nskipped, with their reasons:\n%s\n", strings.Join(skips, "\n"))
	}
	fmt.Fprintf(w, "\ntests: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	return anyFailed
}

// skipReason is the last line the test logged before it skipped, without the
// "file.go:12: " prefix the testing package adds.
func skipReason(out []string) string {
	for i := len(out) - 1; i >= 0; i-- {
		line := strings.TrimSpace(out[i])
		if line == "" || strings.HasPrefix(line, "--- SKIP") || strings.HasPrefix(line, "=== ") {
			continue
		}
		if _, rest, ok := strings.Cut(line, ": "); ok && strings.Contains(line[:strings.Index(line, ": ")], ".go:") {
			return rest
		}
		return line
	}
	return "(no reason given)"
}

// modulePrefix is the longest common "dir/" prefix of the package names.
func modulePrefix(names []string) string {
	if len(names) == 0 {
		return ""
	}
	prefix := names[0]
	for _, n := range names[1:] {
		for !strings.HasPrefix(n, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		return prefix[:i+1]
	}
	return ""
}
