// Package kuma_test is the Kuma suite: Kong in front of Kuma on a kind
// cluster (or the cluster `meshgate e2e` hands it), telling the story of the
// seed guide "Ingress mTLS Bridge" with evidence. The specs are built from
// scenarios.Kuma by suites/suite: one Ordered container per scenario, one
// spec per phase.
//
//	go test ./suites/kuma -v -args -ginkgo.v                       # brings up its own cluster
//	go run github.com/onsi/ginkgo/v2/ginkgo --dry-run -v ./suites/kuma
//	meshgate e2e --mesh kuma --scenario kuma-podip-502              # the usual way
package kuma_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/scenarios"
	"github.com/meshgate/meshgate/suites/suite"
)

func TestKuma(t *testing.T) {
	RegisterFailHandler(Fail)
	kumaSuite.Run(t, "Kuma suite")
}

// Kuma's sidecars are read through the control plane's inspect API, which
// scenarios.NewRuntime sets up for Kuma.
var kumaSuite = suite.Define(suite.Mesh{
	Mesh:         scenarios.MeshKuma,
	Name:         "Kuma",
	PhaseTimeout: 10 * time.Minute,
	Findings:     true,
	Reports:      true,
	Diagnostics: suite.Diagnostics{
		Namespaces: []string{"kong-air-production", "kong-air-trap", "meshgate-outside", cluster.KongNamespace, "kuma-system"},
		KumaCP:     "kuma-system/kuma-control-plane",
		NodeLogs:   true,
	},
})
