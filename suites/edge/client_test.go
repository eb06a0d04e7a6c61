package edge

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/meshgate/meshgate/fixtures/apps/echo/echoserver"
	"github.com/meshgate/meshgate/internal/pki"
)

// target is a TLS endpoint of a gateway under test.
type target struct {
	addr       string // host:port reachable from the test process
	serverName string // SNI and the name the gateway certificate must match
	roots      *x509.CertPool
}

// call is one request and everything observed about it.
type call struct {
	id     string
	status int
	body   []byte
	err    error
	echo   *echoserver.Response // decoded when the body is an echo answer
	state  *tls.ConnectionState
}

func (c call) String() string {
	if c.err != nil {
		return fmt.Sprintf("case %s: error %v", c.id, c.err)
	}
	return fmt.Sprintf("case %s: status %d, body %.300s", c.id, c.status, c.body)
}

type callOpts struct {
	cert       *pki.Cert // nil: send no certificate even if asked
	minVersion uint16
	maxVersion uint16
	header     http.Header
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// do sends one GET on a fresh connection. The client certificate is always
// offered when asked, even if the server's CA list does not name its issuer
// (Go's default would silently send none, turning every "foreign CA" case
// into a "no certificate" case).
func (t target) do(ctx context.Context, path string, o callOpts) call {
	c := call{id: newID()}
	cfg := &tls.Config{
		RootCAs:    t.roots,
		ServerName: t.serverName,
		MinVersion: o.minVersion,
		MaxVersion: o.maxVersion,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if o.cert == nil {
				return &tls.Certificate{}, nil
			}
			pair := o.cert.TLSCertificate()
			return &pair, nil
		},
	}
	tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true, ForceAttemptHTTP2: false}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, timeouts.Request)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+t.addr+path, nil)
	if err != nil {
		c.err = err
		return c
	}
	for k, vs := range o.header {
		req.Header[k] = vs
	}
	req.Header.Set(caseHeader, c.id)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		c.err = err
		return c
	}
	defer resp.Body.Close()
	c.status, c.state = resp.StatusCode, resp.TLS
	c.body, c.err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var echo echoserver.Response
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && json.Unmarshal(c.body, &echo) == nil && echo.Method != "" {
		c.echo = &echo
	}
	return c
}

// rejected reports whether the gateway refused the client: the handshake (or
// the first read after a TLS 1.3 handshake) failed, or the gateway answered
// with its own 4xx instead of proxying. The backend check is separate.
func (c call) rejected() bool {
	if c.err != nil {
		return true
	}
	return c.status >= 400 && c.status < 500 && c.echo == nil
}
