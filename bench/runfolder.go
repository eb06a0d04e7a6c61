package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// InterruptedError is what Execute returns when its context was cancelled.
// It says what the run folder holds now; Unwrap gives the context's error.
type InterruptedError struct {
	Dir   string
	State string // what Dir holds now, for the user
	Err   error
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("bench interrupted: %s", e.State)
}

func (e *InterruptedError) Unwrap() error { return e.Err }

// stage is a hidden folder inside the run folder that holds a run's raw
// files until the run is committed.
type stage struct {
	dir, path string
	madeDir   bool // dir did not exist before this run
}

func newStage(dir string) (*stage, error) {
	if err := checkRawDir(dir); err != nil {
		return nil, err
	}
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create run folder: %w", err)
	}
	path, err := os.MkdirTemp(dir, ".bench-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create run folder: %w", err)
	}
	if err := os.Mkdir(filepath.Join(path, RawDir), 0o755); err != nil {
		return nil, fmt.Errorf("create run folder: %w", err)
	}
	return &stage{dir: dir, path: path, madeDir: errors.Is(statErr, os.ErrNotExist)}, nil
}

// checkRawDir refuses a run folder whose raw/ holds anything but raw result
// files: commit replaces raw/ as a whole.
func checkRawDir(dir string) error {
	entries, err := os.ReadDir(filepath.Join(dir, RawDir))
	if err != nil {
		return nil // absent: nothing to replace
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || filepath.Ext(e.Name()) != ".bin" {
			return fmt.Errorf("run folder %s: %s holds %s, which is not a meshgate raw results file; bench replaces %s as a whole, so choose another --out", dir, RawDir, e.Name(), RawDir)
		}
	}
	return nil
}

// commit analyses the staged raw files, writes the summary and moves both
// into the run folder: the old raw/ aside, the new raw/ in, summary.json
// last. A reader never sees a summary beside raw files it does not list
// without noticing (see VerifyRaw).
func (st *stage) commit(s *Summary) error {
	if err := Analyze(st.path, s); err != nil {
		return err
	}
	if err := WriteSummary(st.path, s); err != nil {
		return err
	}
	raw := filepath.Join(st.dir, RawDir)
	if _, err := os.Stat(raw); err == nil {
		if err := os.Rename(raw, filepath.Join(st.path, "previous-raw")); err != nil {
			return fmt.Errorf("replace %s: %w", raw, err)
		}
	}
	if err := os.Rename(filepath.Join(st.path, RawDir), raw); err != nil {
		return fmt.Errorf("move raw results into %s: %w", raw, err)
	}
	if err := os.Rename(filepath.Join(st.path, SummaryFile), filepath.Join(st.dir, SummaryFile)); err != nil {
		return fmt.Errorf("move %s into %s: %w", SummaryFile, st.dir, err)
	}
	return nil
}

// interrupted decides what the run folder keeps after a cancellation: a
// previous run stays untouched; otherwise the finished attacks are committed
// as a partial run.
func (st *stage) interrupted(ctx context.Context, s *Summary, planned int) (*Summary, error) {
	ie := &InterruptedError{Dir: st.dir, Err: ctx.Err()}
	done := fmt.Sprintf("after %d of %d attacks", len(s.Runs), planned)
	switch {
	case HasRun(st.dir):
		ie.State = fmt.Sprintf("%s; %s still holds the previous run, unchanged (this run's finished attacks were discarded; use a new --out to keep a partial run)", done, st.dir)
		return nil, ie
	case len(s.Runs) == 0:
		ie.State = fmt.Sprintf("before the first attack finished; nothing was written to %s", st.dir)
		if st.madeDir {
			os.RemoveAll(st.path)
			os.Remove(st.dir) // only if empty
		}
		return nil, ie
	}
	reason := "cancelled"
	if cause := context.Cause(ctx); cause != nil {
		reason = cause.Error()
	}
	s.EndTime = time.Now().UTC()
	s.Partial = &Partial{Reason: reason, Attacks: len(s.Runs), Planned: planned}
	if err := st.commit(s); err != nil {
		return nil, errors.Join(ie, err)
	}
	ie.State = fmt.Sprintf("%s; %s holds a partial run: summary.json (marked partial) lists the finished attacks, raw/ keeps their results", done, st.dir)
	return s, ie
}

// HasRun reports whether dir holds a bench run (its summary.json).
func HasRun(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, SummaryFile))
	return err == nil
}

// VerifyRaw checks that raw/ holds exactly the files s lists, each with the
// checksum s recorded (summaries written before checksums existed are
// checked for unlisted files only). It names every file that does not belong.
func VerifyRaw(dir string, s *Summary) error {
	listed := map[string]Run{}
	for _, r := range s.Runs {
		listed[r.Raw] = r
	}
	var errs []error
	found, _ := filepath.Glob(filepath.Join(dir, RawDir, "*.bin"))
	for _, f := range found {
		rel := filepath.ToSlash(filepath.Join(RawDir, filepath.Base(f)))
		if _, ok := listed[rel]; !ok {
			errs = append(errs, fmt.Errorf("%s is not listed in %s: it comes from another run", rel, SummaryFile))
		}
	}
	for _, r := range s.Runs {
		if r.SHA256 == "" {
			continue
		}
		got, err := fileSHA256(filepath.Join(dir, filepath.FromSlash(r.Raw)))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if got != r.SHA256 {
			errs = append(errs, fmt.Errorf("%s has checksum %.12s…, but %s recorded %.12s… for %s c%d r%d: it was replaced by another run", r.Raw, got, SummaryFile, r.SHA256, r.Mode, r.Connections, r.Repetition))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("run folder %s mixes runs (%s of run %s):\n  %s\nre-run the bench into an empty --out folder", dir, SummaryFile, s.ID, strings.ReplaceAll(errors.Join(errs...).Error(), "\n", "\n  "))
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("raw results %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("raw results %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
