package main

import (
	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/fixtures/client"
)

// fixtureSets lists the fixture sets `meshgate plan --mesh <mesh>` prints.
// Hook for the topology packages: append each mesh's Variants once they are
// merged, for example
//
//	case "kuma": sets = append(sets, kumafixtures.Variants(kumafixtures.Options{})...)
func fixtureSets(mesh string) ([]fixtures.Set, error) {
	sets := client.Variants(client.Options{})
	switch mesh {
	default:
	}
	return sets, nil
}
