package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOptionsAndGateValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Options, *Gate)
		want   string
	}{
		{"repeated connection count", func(o *Options, _ *Gate) { o.Connections = []int{16, 4, 16} }, "--connections has 16 twice"},
		{"negative timeout", func(o *Options, _ *Gate) { o.Timeout = -5 * time.Second }, "--timeout is -5s"},
		{"body too large", func(o *Options, _ *Gate) { o.BodyBytes = 2 << 20 }, "--body-bytes is 2097152"},
		{"unknown percentile", func(_ *Options, g *Gate) { g.Percentiles = []string{"p50", "p42"} }, `--gate-percentiles has "p42"`},
		{"max is not gated", func(_ *Options, g *Gate) { g.Percentiles = []string{"max"} }, `--gate-percentiles has "max"`},
		{"repeated percentile", func(_ *Options, g *Gate) { g.Percentiles = []string{"p99", "p99"} }, "--gate-percentiles has p99 twice"},
		{"negative threshold", func(_ *Options, g *Gate) { g.ThresholdMs = -1 }, "--gate-threshold-ms is -1"},
		{"confidence", func(_ *Options, g *Gate) { g.Confidence = 0.3 }, "--gate-confidence is 0.3"},
		{"no loader", func(o *Options, _ *Gate) { o.Loaders = 0 }, "--loaders is 0, want ≥ 1"},
		{"fewer connections than loaders", func(o *Options, _ *Gate) { o.Loaders = 3 }, "--connections has 2, fewer than --loaders 3"},
		{"rate below loaders", func(o *Options, _ *Gate) { o.Loaders, o.Connections, o.Rate = 4, []int{4}, 3 }, "--rate 3 is below --loaders 4"},
	}
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	if err := DefaultGate().Validate(); err != nil {
		t.Fatalf("default gate refused: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, g := DefaultOptions(), DefaultGate()
			tt.change(&o, &g)
			err := o.Validate()
			if gerr := g.Validate(); gerr != nil {
				err = gerr
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestExecuteRefusesAForeignRawFolder(t *testing.T) {
	dir := t.TempDir()
	notes := filepath.Join(dir, RawDir, "notes.txt")
	if err := os.MkdirAll(filepath.Dir(notes), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notes, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := Plan{Target: "local", Modes: []Mode{{Name: ModeBaseline, URL: "http://127.0.0.1:1/"}}, Baseline: ModeBaseline, Options: DefaultOptions()}
	_, err := Execute(t.Context(), dir, p, LocalLoader{}, nil)
	if err == nil || !strings.Contains(err.Error(), "notes.txt") || !strings.Contains(err.Error(), "choose another --out") {
		t.Fatalf("Execute into a folder whose raw/ is not meshgate's = %v", err)
	}
	if _, err := os.Stat(notes); err != nil {
		t.Errorf("the user's file is gone: %v", err)
	}
}
