package edge

import (
	"crypto/tls"
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshgate/meshgate/internal/pki"
)

// gateway is one gateway under test, as the shared tables see it.
type gateway struct {
	name    string
	target  target
	backend *backend // where the gateway proxies /api/
	// forged headers a valid client sends; the gateway must overwrite them.
	forged http.Header
	// identity asserts what the gateway told the backend about the client.
	identity func(c call)
	logs     func() string
}

// clientCase is one row of the client-certificate table.
type clientCase struct {
	cert   func(*pki.Bundle) *pki.Cert // nil: no certificate
	accept bool
}

// clientTable declares, inside a gateway's container, the seed's case table
// and the TLS 1.1 refusal. gw is read when the specs run.
func clientTable(gw func() *gateway) {
	AfterEach(func() {
		if g := gw(); g != nil && CurrentSpecReport().Failed() && g.logs != nil {
			AddReportEntry(g.name+" logs", g.logs())
		}
	})

	DescribeTable("client certificates",
		func(ctx SpecContext, tc clientCase) {
			g := gw()
			o := callOpts{header: g.forged}
			if tc.cert != nil {
				o.cert = tc.cert(suite.pki)
			}
			c := g.target.do(ctx, "/api/orders/1", o)
			AddReportEntry("call", c.String(), ReportEntryVisibilityFailureOrVerbose)
			if !tc.accept {
				Expect(c.rejected()).To(BeTrue(), "%s let the client through: %s", g.name, c)
				Expect(g.backend.saw(c.id)).To(BeFalse(), "%s reached the backend with %s", c.id, g.name)
				return
			}
			Expect(c.err).NotTo(HaveOccurred())
			Expect(c.status).To(Equal(http.StatusOK), "%s", c)
			Expect(c.echo).NotTo(BeNil(), "the answer is not the echo backend's: %s", c)
			Expect(g.backend.saw(c.id)).To(BeTrue(), "the request never reached the backend")
			g.identity(c)
		},
		Entry("no client certificate → rejected", clientCase{}),
		Entry("certificate from a foreign CA with the same issuer name → rejected",
			clientCase{cert: func(b *pki.Bundle) *pki.Cert { return b.ForeignClient }}),
		Entry("expired certificate → rejected",
			clientCase{cert: func(b *pki.Bundle) *pki.Cert { return b.ExpiredClient }}),
		Entry("valid CN=user-service,O=YourOrg → 200 with the client's DN forwarded",
			clientCase{cert: func(b *pki.Bundle) *pki.Cert { return b.Client }, accept: true}),
	)

	It("refuses TLS 1.1 and accepts TLS 1.2 from the same client", func(ctx SpecContext) {
		expectTLS11Refused(ctx, gw(), "/api/tls", suite.pki.Client)
	})
}

// expectTLS11Refused sends the same request forced to TLS 1.1, then to TLS
// 1.2 as the control that makes the refusal mean something.
func expectTLS11Refused(ctx SpecContext, g *gateway, path string, cert *pki.Cert) {
	old := g.target.do(ctx, path, callOpts{cert: cert, minVersion: tls.VersionTLS11, maxVersion: tls.VersionTLS11})
	AddReportEntry("TLS 1.1", old.String(), ReportEntryVisibilityFailureOrVerbose)
	Expect(old.err).To(HaveOccurred(), "%s accepted TLS 1.1: %s", g.name, old)
	Expect(g.backend.saw(old.id)).To(BeFalse())

	ok := g.target.do(ctx, path, callOpts{cert: cert, minVersion: tls.VersionTLS12, maxVersion: tls.VersionTLS12})
	Expect(ok.err).NotTo(HaveOccurred(), "TLS 1.2 control failed, so the TLS 1.1 refusal proves nothing")
	Expect(ok.status).To(Equal(http.StatusOK), "%s", ok)
	Expect(ok.state.Version).To(Equal(uint16(tls.VersionTLS12)))
	Expect(g.backend.saw(ok.id)).To(BeTrue())
}

// Forged identity headers a client sends on the valid row.
var (
	forgedNginx = http.Header{"X-Client-Dn": {"CN=admin,O=Evil"}, "X-Client-Verify": {"SUCCESS-FORGED"}}
	forgedXFCC  = http.Header{"X-Forwarded-Client-Cert": {`Subject="CN=admin,O=Evil";URI=spiffe://evil/sa/admin`}}
)

// nginxIdentity checks the seed's headers: X-Client-DN, X-Client-Verify and
// the escaped client certificate, and that forged values were overwritten.
func nginxIdentity(c call) {
	h := c.echo.Headers
	Expect(h["X-Client-Dn"]).To(Equal([]string{"CN=user-service,O=YourOrg"}), "headers seen by the backend: %v", h)
	Expect(h["X-Client-Verify"]).To(Equal([]string{"SUCCESS"}))
	Expect(h["X-Client-Cert"]).To(HaveLen(1))
	pem, err := url.QueryUnescape(h["X-Client-Cert"][0])
	Expect(err).NotTo(HaveOccurred())
	Expect(pem).To(ContainSubstring(strings.TrimSpace(string(suite.pki.Client.CertPEM))))
}

// xfccIdentity checks Envoy's X-Forwarded-Client-Cert (SANITIZE_SET).
func xfccIdentity(c call) {
	xfcc := c.echo.Headers["X-Forwarded-Client-Cert"]
	Expect(xfcc).To(HaveLen(1), "headers seen by the backend: %v", c.echo.Headers)
	Expect(xfcc[0]).To(SatisfyAll(ContainSubstring(`Subject="`), ContainSubstring("CN=user-service"), ContainSubstring("O=YourOrg")))
	Expect(xfcc[0]).NotTo(ContainSubstring("Evil"), "the client's forged XFCC reached the backend")
}
