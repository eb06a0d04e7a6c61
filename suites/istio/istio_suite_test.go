// Package istio_test is the Istio suite: Kong (sidecar-injected) in front of
// Istio in STRICT mode on a kind cluster (or the cluster `meshgate e2e` hands
// it), following the seed "gateway-mesh integration" guide (namespace
// api-system, backend order-service). The specs are built from
// scenarios.IstioScenarios by suites/suite: one Ordered container per
// scenario, one spec per phase, then one spec per claim of that phase (every
// JWT row its own spec).
//
//	go test ./suites/istio -v -args -ginkgo.v                      # brings up its own cluster
//	go run github.com/onsi/ginkgo/v2/ginkgo --dry-run -v ./suites/istio
//	meshgate e2e --mesh istio --scenario istio-jwt-claims           # the usual way
//
// Without Docker (and no cluster handed over) every spec is skipped with
// cluster.DockerReachable's reason.
package istio_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	outside "github.com/meshgate/meshgate/fixtures/client"
	istiofx "github.com/meshgate/meshgate/fixtures/istio"
	"github.com/meshgate/meshgate/internal/addons"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/scenarios"
	"github.com/meshgate/meshgate/suites/suite"
)

func TestIstio(t *testing.T) {
	RegisterFailHandler(Fail)
	istioSuite.Run(t, "Istio suite")
}

var istioSuite = suite.Define(suite.Mesh{
	Mesh:         scenarios.MeshIstio,
	Name:         "Istio",
	PhaseTimeout: 15 * time.Minute,
	Sidecars:     func(env *cluster.Env) scenarios.Sidecars { return istioSidecars{rest: env.REST} },
	ClaimSpecs:   true,
	Findings:     true,
	Reports:      true,
	// api-system, the outside client, Kong, istiod; node logs on kind.
	Diagnostics: suite.Diagnostics{
		Namespaces: []string{istiofx.DefaultNamespace, outside.Namespace, cluster.KongNamespace, addons.IstioNamespace},
		NodeLogs:   true,
	},
})
