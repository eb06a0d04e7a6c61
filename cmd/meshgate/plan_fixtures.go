package main

import (
	"github.com/meshgate/meshgate/fixtures"
	ambientfixtures "github.com/meshgate/meshgate/fixtures/ambient"
	"github.com/meshgate/meshgate/fixtures/client"
	istiofixtures "github.com/meshgate/meshgate/fixtures/istio"
	kumafixtures "github.com/meshgate/meshgate/fixtures/kuma"
	"github.com/meshgate/meshgate/internal/probe"
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
	case "istio":
		istio, err := istioPlanSets()
		if err != nil {
			return nil, err
		}
		sets = append(sets, istio...)
	case "istio-ambient":
		o, err := planIstioOptions()
		if err != nil {
			return nil, err
		}
		amb, err := ambientfixtures.Variants(ambientfixtures.Options{Options: o})
		if err != nil {
			return nil, err
		}
		sets = append(sets, amb...)
	}
	return sets, nil
}

// istioPlanSets renders the Istio variants with a key set minted for the plan
// alone: a real run mints its own, so the plan's JWKS is only an example.
func istioPlanSets() ([]fixtures.Set, error) {
	o, err := planIstioOptions()
	if err != nil {
		return nil, err
	}
	return istiofixtures.Variants(o)
}

func planIstioOptions() (istiofixtures.Options, error) {
	o := istiofixtures.Options{}.Defaults()
	issuer, err := probe.NewJWTIssuer(o.Issuer, o.Audiences[0], "meshgate-plan")
	if err != nil {
		return o, err
	}
	o.JWKS, err = issuer.JWKS()
	return o, err
}
