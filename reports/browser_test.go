package reports

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// pageHost is the made-up name the page is served under. Chromium sends
// every request through a logging proxy on 127.0.0.1 and resolves no name
// itself, so each request the page or the browser makes is seen here, and
// none can leave the machine.
const pageHost = "meshgate-report.test"

func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("MESHGATE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("headless browser check skipped: chromium not found on PATH (Debian: apt-get install chromium; .ci/run installs it; or set MESHGATE_CHROMIUM)")
	return ""
}

// requestLog is the proxy: it serves index.html for pageHost and records
// every request it sees.
type requestLog struct {
	page []byte
	mu   sync.Mutex
	seen []string
}

func (l *requestLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	l.seen = append(l.seen, fmt.Sprintf("%s %s%s (referer %q)", r.Method, r.Host, r.URL.Path, r.Referer()))
	l.mu.Unlock()
	if r.Method == http.MethodGet && r.Host == pageHost && r.URL.Path == "/index.html" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(l.page)
		return
	}
	http.Error(w, "meshgate browser test: request refused", http.StatusForbidden)
}

func (l *requestLog) requests() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.seen...)
}

func runChromium(t *testing.T, bin, proxy string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
		"--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
		"--disable-client-side-phishing-detection", "--disable-domain-reliability", "--no-pings",
		"--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,NetworkTimeServiceQuerying",
		"--user-data-dir=" + t.TempDir(),
		"--proxy-server=http://" + proxy,
		"--proxy-bypass-list=<-loopback>",
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
	}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\nstderr:\n%s", strings.Join(args, " "), err, tail(stderr.String(), 2000))
	}
	return stdout.Bytes()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// browserChatter are hosts Chromium itself calls (component updater,
// sign-in, clock) even with background networking disabled. Exact names
// only: a page's fetch of fonts.googleapis.com must still count.
var browserChatter = map[string]bool{
	"update.googleapis.com": true, "accounts.google.com": true, "clients2.google.com": true,
	"redirector.gvt1.com": true, "safebrowsing.googleapis.com": true, "clientservices.googleapis.com": true,
	"optimizationguide-pa.googleapis.com": true, "content-autofill.googleapis.com": true,
}

type browseResult struct {
	dom      []byte
	shot     string
	pageHits int      // requests for the page itself
	fetched  []string // any other request, except known browser chatter
	chatter  []string
}

// browse serves page as http://pageHost/index.html through a logging proxy
// on 127.0.0.1 and loads it twice in headless Chromium: once for the DOM,
// once for a screenshot. No host name resolves (--host-resolver-rules), so
// every request goes to the proxy and none can leave the machine.
func browse(t *testing.T, bin string, page []byte) browseResult {
	t.Helper()
	log := &requestLog{page: page}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: log}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + pageHost + "/index.html"
	res := browseResult{shot: filepath.Join(t.TempDir(), "page.png")}
	res.dom = runChromium(t, bin, ln.Addr().String(), "--dump-dom", url)
	runChromium(t, bin, ln.Addr().String(), "--screenshot="+res.shot, "--window-size=1280,2200", url)
	for _, q := range log.requests() {
		host := strings.Fields(q)[1]
		host = strings.SplitN(strings.SplitN(host, "/", 2)[0], ":", 2)[0]
		switch {
		case strings.HasPrefix(q, "GET "+pageHost+"/index.html "):
			res.pageHits++
		case browserChatter[host]:
			res.chatter = append(res.chatter, q)
		default:
			res.fetched = append(res.fetched, q)
		}
	}
	return res
}

func TestBrowserRendersReportOffline(t *testing.T) {
	bin := chromiumPath(t)
	out, r := generateFixture(t)
	res := browse(t, bin, readOut(t, out, HTMLFile))
	if keep := os.Getenv("MESHGATE_KEEP_SCREENSHOT"); keep != "" {
		if b, err := os.ReadFile(res.shot); err == nil {
			os.WriteFile(keep, b, 0o644)
		}
	}

	t.Run("DOM has the tables and charts", func(t *testing.T) {
		checks := []struct {
			what string
			re   string
			min  int
		}{
			{"inline SVG charts", `<svg\b`, len(r.Charts)},
			{"chart text (axis labels)", `<text\b`, 8 * len(r.Charts)},
			{"tables", `<table\b`, 6},
			{"scenario rows", `class="o-(?:passed|failed|skipped)"`, 4},
			{"percentile table", `id="percentiles"`, 1},
			{"overhead table", `id="overheads"`, 1},
			{"anchor table", `id="anchor-table"`, 1},
			{"unsourced claims", `14\.2 ms vs 3\.1 ms average latency overhead`, 1},
		}
		for _, c := range checks {
			if n := len(regexp.MustCompile(c.re).FindAll(res.dom, -1)); n < c.min {
				t.Errorf("rendered DOM has %d %s (%s), want at least %d", n, c.what, c.re, c.min)
			}
		}
	})

	t.Run("screenshot is not blank", func(t *testing.T) {
		inked, colours := screenshotInk(t, res.shot)
		if inked < 0.03 || colours < 50 {
			t.Errorf("screenshot looks blank: %.2f%% non-white pixels, %d colours; want ≥ 3%% and ≥ 50", 100*inked, colours)
		}
	})

	t.Run("the page fetches nothing", func(t *testing.T) {
		if res.pageHits != 2 {
			t.Errorf("the page was requested %d times, want 2 (one per browser run)", res.pageHits)
		}
		if len(res.fetched) > 0 {
			t.Errorf("requests beyond the page (all stopped at the loopback proxy): %q", res.fetched)
		}
		if len(res.chatter) > 0 {
			t.Logf("Chromium's own background requests, refused by the loopback proxy: %q", res.chatter)
		}
	})
}

// The control: the same harness must see a page that does fetch things.
func TestBrowserCheckSeesExternalFetches(t *testing.T) {
	bin := chromiumPath(t)
	page := []byte(`<!DOCTYPE html><html><head><link rel="stylesheet" href="http://fonts.example/site.css"></head>` +
		`<body><p>control</p><img src="http://cdn.example/pixel.png"></body></html>`)
	res := browse(t, bin, page)
	joined := strings.Join(res.fetched, "\n")
	for _, host := range []string{"fonts.example", "cdn.example"} {
		if !strings.Contains(joined, host) {
			t.Errorf("the check did not see the control page's fetch of %s; requests seen: %q", host, res.fetched)
		}
	}
}

func screenshotInk(t *testing.T, path string) (float64, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	inked, colours := inkStats(img)
	t.Logf("screenshot %v: %.1f%% non-white pixels, %d distinct colours", img.Bounds().Size(), 100*inked, colours)
	return inked, colours
}

// inkStats is the share of pixels that are not near-white and the number of
// distinct colours (coarsely quantised).
func inkStats(img image.Image) (float64, int) {
	b := img.Bounds()
	inked, total := 0, 0
	colours := map[color.RGBA]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			total++
			if r>>8 < 235 || g>>8 < 235 || bl>>8 < 235 {
				inked++
			}
			colours[color.RGBA{uint8(r >> 12), uint8(g >> 12), uint8(bl >> 12), 0}] = true
		}
	}
	return float64(inked) / float64(total), len(colours)
}
