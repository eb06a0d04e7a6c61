package edge

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	fxedge "github.com/meshgate/meshgate/fixtures/edge"
	"github.com/meshgate/meshgate/internal/pki"
)

// Images are pinned in fixtures/edge and overridable by flag or environment;
// a mirror prefix (MESHGATE_IMAGE_MIRROR=registry.example/mirror) is put in
// front of each for air-gapped users.
var (
	kongImage  = flag.String("edge.kong-image", envOr("MESHGATE_EDGE_KONG_IMAGE", fxedge.KongImage), "Kong image of the edge suite")
	nginxImage = flag.String("edge.nginx-image", envOr("MESHGATE_EDGE_NGINX_IMAGE", fxedge.NginxImage), "NGINX image of the edge suite")
	envoyImage = flag.String("edge.envoy-image", envOr("MESHGATE_EDGE_ENVOY_IMAGE", fxedge.EnvoyImage), "Envoy image of the edge suite")
	nginxBin   = flag.String("edge.nginx", os.Getenv("MESHGATE_NGINX"), "nginx binary for the local NGINX table (default: nginx on PATH or /usr/sbin/nginx)")
)

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func image(ref string) string {
	if m := os.Getenv("MESHGATE_IMAGE_MIRROR"); m != "" {
		return filepath.ToSlash(filepath.Join(m, ref))
	}
	return ref
}

// Timeouts of the suite, in one place.
var timeouts = struct {
	Start, Request, Stop time.Duration
}{Start: 3 * time.Minute, Request: 10 * time.Second, Stop: 30 * time.Second}

// suite is what BeforeSuite builds for every gateway: one PKI per run and the
// echo backends the gateways proxy to.
type suiteState struct {
	pki *pki.Bundle
	// plain is the plaintext upstream of NGINX and Envoy.
	plain *backend
	// Kong's TLS upstreams: trusted (requires Kong's client certificate),
	// foreign (certificate from the foreign CA), wrongHost (valid CA, wrong name).
	trusted, foreign, wrongHost *backend
}

var suite suiteState

func TestEdge(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Edge mTLS suite")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	dir, err := os.MkdirTemp("", "meshgate-edge-pki-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	suite.pki, err = pki.NewBundle(dir, time.Now())
	Expect(err).NotTo(HaveOccurred())
	b := suite.pki

	suite.plain = startBackend(nil)
	suite.trusted = startBackend(tlsServer(b.Upstream, b.CA))
	suite.foreign = startBackend(tlsServer(b.ForeignUpstream, b.CA))
	suite.wrongHost = startBackend(tlsServer(b.WrongHost, b.CA))
	for _, be := range []*backend{suite.plain, suite.trusted, suite.foreign, suite.wrongHost} {
		DeferCleanup(be.stop)
	}
}, NodeTimeout(time.Minute))
