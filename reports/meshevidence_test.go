package reports

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/bench"
)

// A cluster bench's mTLS verdicts and proxy costs, computed by the bench
// from its runs' evidence, reach the JSON, Markdown and HTML with the
// evidence beside them.
func TestReportShowsMTLSProofAndProxyCost(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "cluster")
	s := writeBenchFolder(t, dir, defaultSynth())
	for i := range s.Runs {
		if s.Runs[i].Mode == "proxy" {
			s.Runs[i].Hop = &bench.HopEvidence{Source: "kuma sidecar of shop/echo-1, listener.10.244.1.7_8080.*", Unit: "handshakes", MTLS: 4}
			s.Runs[i].Proxies = []bench.ProxyUsage{{Component: bench.ComponentBackendSidecar, Containers: []string{"shop/echo-1/kuma-sidecar"}, Cores: 0.08, WindowSeconds: 2, MemoryMiB: 41}}
		}
	}
	if err := bench.Analyze(dir, s); err != nil {
		t.Fatal(err)
	}
	if err := bench.WriteSummary(dir, s); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "report")
	if _, err := Generate(t.Context(), Options{In: []string{dir}, Out: out, Now: fixedNow}); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{JSONFile, MarkdownFile, "index.html"} {
		b, err := os.ReadFile(filepath.Join(out, file))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, want := range []string{bench.ProofMTLS, "handshakes over mutual TLS", "listener.10.244.1.7_8080", bench.ComponentBackendSidecar, "0.20 vCPU, 60 MB per 1000 rps"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q", file, want)
			}
		}
	}
}
