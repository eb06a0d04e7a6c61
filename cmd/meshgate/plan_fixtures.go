package main

import (
	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/fixtures/client"
	kumafixtures "github.com/meshgate/meshgate/fixtures/kuma"
)

// fixtureSets lists the fixture sets `meshgate plan --mesh <mesh>` prints:
// the mesh-independent client, then every variant the mesh's scenarios apply.
func fixtureSets(mesh string) ([]fixtures.Set, error) {
	sets := client.Variants(client.Options{})
	switch mesh {
	case "kuma":
		kuma, err := kumafixtures.Variants(kumafixtures.Defaults())
		if err != nil {
			return nil, err
		}
		sets = append(sets, kuma...)
	}
	return sets, nil
}
