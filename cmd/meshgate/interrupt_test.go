package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meshgate/meshgate/bench"
	"github.com/meshgate/meshgate/reports"
)

// tinyBench is a local bench of a few short attacks (modes baseline, proxy,
// baseline-aa at one connection count).
var tinyBench = []string{"--rate", "200", "--warmup", "0s", "--connections", "2", "--resamples", "200", "--proxy", "go", "--rate-tolerance", "0.5"}

// built is this command compiled once for the tests that signal it.
var built struct {
	once      sync.Once
	dir, path string
	err       error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildMeshgate builds this command into a temp folder: interrupts need a
// real process to signal.
func buildMeshgate(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds meshgate and runs the bench engine on loopback; skipped with -short")
	}
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "meshgate-bin-"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "meshgate")
		if out, err := exec.Command("go", "build", "-o", built.path, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// interruptBench starts `meshgate bench --local -v` into dir, sends SIGINT
// once `attacks` attacks have finished, and returns the exit code and stderr.
func interruptBench(t *testing.T, bin, dir string, attacks int) (int, string) {
	t.Helper()
	args := append([]string{"bench", "--local", "-v", "--out", dir, "--duration", "400ms", "--reps", "20"}, tinyBench...)
	cmd := exec.Command(bin, args...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	done := make(chan struct{})
	signalled := false
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pipe)
		for n := 0; sc.Scan(); {
			stderr.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "attack done") {
				if n++; n == attacks {
					signalled = cmd.Process.Signal(syscall.SIGINT) == nil
				}
			}
		}
	}()
	timer := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	<-done
	err = cmd.Wait()
	if !signalled {
		t.Fatalf("bench ended before %d attacks finished (%v):\n%s", attacks, err, stderr.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// checksums maps every file under dir (hidden ones too) to its SHA-256.
func checksums(t *testing.T, dir string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		sums[rel] = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

func wantInterrupted(t *testing.T, code int, stderr string, want string) {
	t.Helper()
	if code != exitInterrupted {
		t.Errorf("exit %d after SIGINT, want %d", code, exitInterrupted)
	}
	if !strings.Contains(stderr, "meshgate: interrupted") || !strings.Contains(stderr, want) || strings.Contains(stderr, "context canceled") {
		t.Errorf("stderr should say interrupted and %q, never \"context canceled\":\n%s", want, stderr)
	}
}

func TestBenchInterruptLeavesPreviousRunIntact(t *testing.T) {
	bin := buildMeshgate(t)
	dir := filepath.Join(t.TempDir(), "run")
	code, out, errOut := runCLI(t, append([]string{"bench", "--local", "--out", dir, "--duration", "300ms", "--reps", "1"}, tinyBench...)...)
	if code != 0 {
		t.Fatalf("first bench: exit %d\n%s\n%s", code, out, errOut)
	}
	before := checksums(t, dir)

	code, stderr := interruptBench(t, bin, dir, 2)
	wantInterrupted(t, code, stderr, "still holds the previous run, unchanged")

	after := checksums(t, dir)
	for f, sum := range before {
		if after[f] != sum {
			t.Errorf("%s changed (or vanished) after the interrupted bench", f)
		}
	}
	for f := range after {
		if _, ok := before[f]; !ok {
			t.Errorf("the interrupted bench left %s in the old run folder", f)
		}
	}
	if code, _, errOut := runCLI(t, "report", "--in", dir, "--out", filepath.Join(t.TempDir(), "r")); code != 0 {
		t.Errorf("report on the kept run: exit %d: %s", code, errOut)
	}
}

func TestBenchInterruptMarksFreshRunPartial(t *testing.T) {
	bin := buildMeshgate(t)
	dir := filepath.Join(t.TempDir(), "run")
	code, stderr := interruptBench(t, bin, dir, 3)
	wantInterrupted(t, code, stderr, "holds a partial run")

	s, err := bench.ReadSummary(dir)
	if err != nil {
		t.Fatalf("an interrupted fresh run must leave a readable summary: %v", err)
	}
	if s.Partial == nil || s.Partial.Attacks != len(s.Runs) || len(s.Runs) < 3 || s.Partial.Planned != 60 {
		t.Fatalf("summary not marked partial with the finished attacks: partial %+v, %d runs", s.Partial, len(s.Runs))
	}
	raw, _ := filepath.Glob(filepath.Join(dir, bench.RawDir, "*.bin"))
	if len(raw) != len(s.Runs) {
		t.Errorf("%d raw files for %d finished attacks", len(raw), len(s.Runs))
	}
	r := filepath.Join(t.TempDir(), "r")
	if code, _, errOut := runCLI(t, "report", "--in", dir, "--out", r); code != 0 {
		t.Fatalf("report on a partial run: exit %d: %s", code, errOut)
	}
	md, err := os.ReadFile(filepath.Join(r, reports.MarkdownFile))
	if err != nil || !strings.Contains(string(md), "partial run: interrupted") {
		t.Errorf("report.md does not say the run is partial (%v)", err)
	}
}

// report refuses a run folder whose raw files are not the ones its summary
// lists: a file from another run, or a listed file replaced.
func TestReportRefusesMixedRunFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the bench engine on loopback; skipped with -short")
	}
	dir := filepath.Join(t.TempDir(), "run")
	code, out, errOut := runCLI(t, append([]string{"bench", "--local", "--out", dir, "--duration", "300ms", "--reps", "1"}, tinyBench...)...)
	if code != 0 {
		t.Fatalf("bench: exit %d\n%s\n%s", code, out, errOut)
	}
	s, err := bench.ReadSummary(dir)
	if err != nil {
		t.Fatal(err)
	}
	first, second := filepath.Join(dir, s.Runs[0].Raw), filepath.Join(dir, s.Runs[1].Raw)
	data, err := os.ReadFile(second)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file, want string
	}{
		{"unlisted raw file", filepath.Join(dir, bench.RawDir, "proxy-c64-r9.bin"), "raw/proxy-c64-r9.bin is not listed in summary.json"},
		{"replaced raw file", first, "it was replaced by another run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig, _ := os.ReadFile(tc.file)
			if err := os.WriteFile(tc.file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if orig == nil {
					os.Remove(tc.file)
				} else {
					os.WriteFile(tc.file, orig, 0o644)
				}
			}()
			code, _, errOut := runCLI(t, "report", "--in", dir, "--out", filepath.Join(t.TempDir(), "r"))
			if code == 0 || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "mixes runs") {
				t.Errorf("exit %d, stderr %q; want a refusal saying %q", code, errOut, tc.want)
			}
		})
	}
}
