package edge

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	fxedge "github.com/meshgate/meshgate/fixtures/edge"
	"github.com/meshgate/meshgate/internal/pki"
)

// Kong routes, one per upstream backend.
const (
	kongTrusted   = "/upstream-mtls"
	kongForeign   = "/upstream-foreign-ca"
	kongWrongHost = "/upstream-wrong-host"
)

func kongConfig(b *pki.Bundle) ([]byte, error) {
	service := func(name, route string, be *backend) fxedge.KongService {
		return fxedge.KongService{
			Name: name, RoutePath: route, URL: fmt.Sprintf("https://%s:%d", pki.ContainerHostAlias, be.port),
			ClientCertPEM: b.GatewayClient.CertPEM, ClientKeyPEM: b.GatewayClient.KeyPEM(), CACertPEM: b.CA.CertPEM,
		}
	}
	return fxedge.KongConfig{
		SNICerts: []fxedge.KongSNICert{
			{Host: pki.SNIInternal, CertPEM: b.SNIInternal.CertPEM, KeyPEM: b.SNIInternal.KeyPEM()},
			{Host: pki.SNIPartner, CertPEM: b.SNIPartner.CertPEM, KeyPEM: b.SNIPartner.KeyPEM()},
		},
		Services: []fxedge.KongService{
			service("upstream-mtls", kongTrusted, suite.trusted),
			service("upstream-foreign-ca", kongForeign, suite.foreign),
			service("upstream-wrong-host", kongWrongHost, suite.wrongHost),
		},
	}.Render()
}

var _ = Describe("Kong upstream mTLS and per-SNI certificates, container", Label("edge", "kong", "container"), Ordered, ContinueOnFailure, func() {
	var (
		kong *gateway
		addr string
	)
	BeforeAll(func(ctx SpecContext) {
		requireDocker(ctx)
		b := suite.pki
		conf, err := kongConfig(b)
		Expect(err).NotTo(HaveOccurred())
		files := append(certFiles("/kong/certs", b.Gateway),
			testcontainers.ContainerFile{Reader: bytes.NewReader(conf), ContainerFilePath: "/kong/kong.json", FileMode: 0o644})
		ctr, logs := startContainer(ctx, "kong", *kongImage,
			testcontainers.WithFiles(files...),
			testcontainers.WithExposedPorts("8443/tcp", "8100/tcp"),
			testcontainers.WithHostPortAccess(suite.trusted.port, suite.foreign.port, suite.wrongHost.port),
			testcontainers.WithEnv(map[string]string{
				"KONG_DATABASE":           "off",
				"KONG_DECLARATIVE_CONFIG": "/kong/kong.json",
				"KONG_PROXY_LISTEN":       "0.0.0.0:8443 ssl",
				"KONG_ADMIN_LISTEN":       "off",
				"KONG_STATUS_LISTEN":      "0.0.0.0:8100",
				"KONG_SSL_CERT":           "/kong/certs/gateway.pem",
				"KONG_SSL_CERT_KEY":       "/kong/certs/gateway-key.pem",
				"KONG_PROXY_ACCESS_LOG":   "/dev/stdout",
				"KONG_PROXY_ERROR_LOG":    "/dev/stderr",
			}),
			testcontainers.WithWaitStrategy(wait.ForAll(
				wait.ForHTTP("/status/ready").WithPort("8100/tcp").WithStatusCodeMatcher(status200),
				wait.ForHTTP(kongTrusted+"/ready").WithPort("8443/tcp").WithTLS(true, clientTLS(pki.GatewayHost, nil)).WithStatusCodeMatcher(status200),
			).WithStartupTimeoutDefault(timeouts.Start)),
		)
		addr = endpoint(ctx, ctr)
		kong = &gateway{
			name: "kong (" + *kongImage + ")", backend: suite.trusted, logs: logs,
			target: target{addr: addr, serverName: pki.GatewayHost, roots: b.CA.Pool()},
		}
	}, NodeTimeout(timeouts.Start))
	AfterEach(func() {
		if kong != nil && CurrentSpecReport().Failed() {
			AddReportEntry("kong logs", kong.logs())
		}
	})

	It("presents the Service's client_certificate upstream: the backend sees Kong's certificate, verified", func(ctx SpecContext) {
		c := kong.target.do(ctx, kongTrusted+"/who", callOpts{})
		Expect(c.err).NotTo(HaveOccurred())
		Expect(c.status).To(Equal(http.StatusOK), "%s", c)
		Expect(c.echo).NotTo(BeNil(), "%s", c)
		Expect(suite.trusted.saw(c.id)).To(BeTrue())
		Expect(c.echo.TLS).NotTo(BeNil(), "the backend got plaintext")
		Expect(c.echo.TLS.Peer).NotTo(BeNil(), "Kong presented no client certificate upstream")
		Expect(c.echo.TLS.Peer.Subject).To(Equal(suite.pki.GatewayClient.Subject()))
		Expect(c.echo.TLS.Verified).To(BeTrue())
	})

	DescribeTable("refuses an upstream its CA bundle does not trust (tls_verify + ca_certificates)",
		func(ctx SpecContext, route string, be func() *backend) {
			c := kong.target.do(ctx, route+"/who", callOpts{})
			AddReportEntry("call", c.String(), ReportEntryVisibilityFailureOrVerbose)
			Expect(c.err).NotTo(HaveOccurred())
			Expect(c.status).To(Equal(http.StatusBadGateway), "%s", c)
			Expect(be().saw(c.id)).To(BeFalse(), "the untrusted upstream received the request")
		},
		Entry("certificate from the foreign CA → 502", kongForeign, func() *backend { return suite.foreign }),
		Entry("certificate from the trusted CA for another host → 502", kongWrongHost, func() *backend { return suite.wrongHost }),
	)

	DescribeTable("serves per-SNI certificates to clients by host",
		func(ctx SpecContext, sni, wantCN string) {
			cs, err := handshake(ctx, addr, sni)
			Expect(err).NotTo(HaveOccurred(), "a client verifying %s against the CA refused Kong's certificate", sni)
			Expect(cs.PeerCertificates[0].Subject.CommonName).To(Equal(wantCN))
		},
		Entry("api.internal.lan → its own certificate", pki.SNIInternal, pki.SNIInternal),
		Entry("api.partner.lan → its own certificate", pki.SNIPartner, pki.SNIPartner),
		Entry("a name without SNI certificate → the default (ssl_cert) certificate", pki.GatewayHost, pki.GatewayHost),
	)

	It("refuses TLS 1.1 and accepts TLS 1.2 from the same client", func(ctx SpecContext) {
		expectTLS11Refused(ctx, kong, kongTrusted+"/tls", nil)
	})

	It("does not ask clients for a certificate: downstream mTLS (mtls-auth) is Kong Enterprise only", func(ctx SpecContext) {
		cs, err := handshake(ctx, addr, pki.GatewayHost)
		Expect(err).NotTo(HaveOccurred())
		Expect(cs.PeerCertificates).NotTo(BeEmpty())
		c := kong.target.do(ctx, kongTrusted+"/anonymous", callOpts{})
		Expect(c.status).To(Equal(http.StatusOK), "OSS Kong refused a client without certificate; if this image enforces client certificates, add it to the client table: %s", c)
		AddReportEntry("finding", "OSS Kong proxies clients without a certificate; the seed's mtls-auth plugin needs Kong Enterprise. Put NGINX or Envoy (tables above) in front, or use Enterprise, to require client certificates.")
	})
})

// handshake connects with SNI name, verifying Kong's certificate for name
// against the run's CA.
func handshake(ctx context.Context, addr, name string) (tls.ConnectionState, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: timeouts.Request}, Config: &tls.Config{
		RootCAs: suite.pki.CA.Pool(), ServerName: name, MinVersion: tls.VersionTLS12,
	}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState(), nil
}
