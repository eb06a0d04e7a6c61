// Package ambient_test is the Istio ambient-mode suite: Kong enrolled in
// ambient (istio.io/dataplane-mode: ambient on its namespace) in front of
// order-service in an ambient namespace, ztunnel on every node and, for L7
// policy, a waypoint. The specs are built from scenarios.AmbientScenarios by
// suites/suite: one Ordered container per scenario, one spec per phase, then
// one spec per claim (every JWT row its own spec).
//
//	go test ./suites/ambient -v -args -ginkgo.v                         # brings up its own cluster
//	go run github.com/onsi/ginkgo/v2/ginkgo --dry-run -v ./suites/ambient
//	meshgate e2e --mesh istio-ambient --scenario ambient-waypoint-bypass # the usual way
//
// Without Docker (and no cluster handed over) every spec is skipped with
// cluster.DockerReachable's reason.
package ambient_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"

	outside "github.com/meshgate/meshgate/fixtures/client"
	istiofx "github.com/meshgate/meshgate/fixtures/istio"
	"github.com/meshgate/meshgate/internal/addons"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/probe"
	"github.com/meshgate/meshgate/scenarios"
	"github.com/meshgate/meshgate/suites/suite"
)

func TestAmbient(t *testing.T) {
	RegisterFailHandler(Fail)
	ambientSuite.Run(t, "Istio ambient suite")
}

var ambientSuite = suite.Define(suite.Mesh{
	Mesh:         scenarios.MeshIstioAmbient,
	Name:         "Istio ambient",
	PhaseTimeout: 15 * time.Minute,
	Sidecars:     func(env *cluster.Env) scenarios.Sidecars { return ztunnels{rest: env.REST} },
	ClaimSpecs:   true,
	Findings:     true,
	Reports:      true,
	// api-system (backend and waypoint), the outside client, Kong, and
	// istio-system (istiod, istio-cni-node, ztunnel); node logs on kind.
	Diagnostics: suite.Diagnostics{
		Namespaces: []string{istiofx.DefaultNamespace, outside.Namespace, cluster.KongNamespace, addons.IstioNamespace},
		NodeLogs:   true,
	},
})

// ztunnels reads a ztunnel pod's metrics port through a port-forward: the
// ambient scenarios' evidence reader (there are no sidecars to read).
type ztunnels struct{ rest *rest.Config }

func (z ztunnels) Admin(_ context.Context, namespace, pod string) (probe.AdminGetter, error) {
	return &probe.PodPort{REST: z.rest, Namespace: namespace, Pod: pod, Port: probe.ZtunnelMetricsPort}, nil
}
