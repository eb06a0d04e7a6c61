package main

import "github.com/meshgate/meshgate/fixtures"

// fixtureSets lists the fixture sets `meshgate plan --mesh <mesh>` prints.
// Hook for the fixture packages: add each mesh's Variants here once they
// exist, for example
//
//	case "kuma": return kumafixtures.Variants(kumafixtures.Options{...}), nil
func fixtureSets(mesh string) ([]fixtures.Set, error) {
	switch mesh {
	default:
		return nil, nil
	}
}
