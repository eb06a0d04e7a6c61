package edge

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
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
	if RunSpecs(t, "Edge mTLS suite") && ran.specs == 0 && ran.skipReason != "" {
		t.Skip("no edge spec could run here; the first reason: " + ran.skipReason)
	}
}

// ran counts the specs that really ran, so that a run where every spec was
// skipped (no nginx, no Docker) reports a skip to go test, not a pass.
var ran struct {
	specs      int
	skipReason string
}

var _ = ReportAfterEach(func(r SpecReport) {
	switch {
	case r.State.Is(types.SpecStateSkipped):
		if ran.skipReason == "" {
			ran.skipReason = r.Failure.Message
		}
	case !r.State.Is(types.SpecStatePending):
		ran.specs++
	}
})

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
