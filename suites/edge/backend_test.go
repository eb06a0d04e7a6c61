package edge

import (
	"context"
	"crypto/tls"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshgate/meshgate/fixtures/apps/echo/echoserver"
	"github.com/meshgate/meshgate/internal/pki"
)

// caseHeader carries a unique id per request, so a spec can prove whether a
// request reached the backend at all.
const caseHeader = "X-Meshgate-Case"

// backend is an echo server on 127.0.0.1 that records which case ids reached it.
type backend struct {
	addr   string
	port   int
	cancel context.CancelFunc
	done   chan error

	mu   sync.Mutex
	seen map[string]int
}

func (b *backend) saw(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seen[id] > 0
}

func (b *backend) ServeHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get(caseHeader); id != "" {
			b.mu.Lock()
			b.seen[id]++
			b.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

// tlsServer is a TLS config presenting cert and requiring a client
// certificate signed by clientCA.
func tlsServer(cert *pki.Cert, clientCA *pki.Authority) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert.TLSCertificate()},
		ClientCAs:    clientCA.Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
}

func startBackend(tlsConfig *tls.Config) *backend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	b := &backend{addr: ln.Addr().String(), port: ln.Addr().(*net.TCPAddr).Port, seen: map[string]int{}, done: make(chan error, 1)}
	srv := echoserver.NewServer(b.ServeHTTP(echoserver.New(echoserver.Options{PodName: "echo-" + strconv.Itoa(b.port)})), tlsConfig)
	srv.ErrorLog = log.New(GinkgoWriter, "backend "+b.addr+": ", 0) // refused handshakes are expected
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	go func() { b.done <- echoserver.Serve(ctx, srv, ln, 5*time.Second) }()
	return b
}

func (b *backend) stop() error {
	b.cancel()
	return <-b.done
}
