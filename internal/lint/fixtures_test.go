package lint

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/fixtures/ambient"
	"github.com/meshgate/meshgate/fixtures/istio"
	"github.com/meshgate/meshgate/fixtures/kuma"
)

// testJWKS is any valid key set: the istio fixtures need one to render the
// JWT variants; lint does not read keys.
const testJWKS = `{"keys":[{"use":"sig","kty":"EC","kid":"lint","crv":"P-256","alg":"ES256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`

// fixtureExpectations: the rules each variant of the project's own fixtures
// must trigger, no more, no fewer. Variants not listed must lint clean when
// fixed and trigger at least one error when marked Reproduction.
var fixtureExpectations = map[string][]string{
	// The Pod-IP reproductions: exactly the Pod-IP rule.
	"kuma/podip-502": {"MG001"},
	"istio/podip":    {"MG001"},
	// The seed guide's bridge hostname (a Reproduction of the seed's error).
	"kuma/externalname-bridge-seed-hostname": {"MG003"},
	// The seed's bridge port 8080 (a Reproduction: Kuma's VIP listens on 80 only).
	"kuma/externalname-bridge-port-8080": {"MG005"},
	// PERMISSIVE controls and the token-optional step show weaknesses on
	// purpose: warnings, not errors.
	"kuma/negative-control-permissive": {"MG012"},
	"istio/permissive":                 {"MG012"},
	"istio/requestauthentication-only": {"MG009"},
	// Ambient: the waypoint bypass is exactly MG016; Pod IPs without a
	// waypoint (ztunnel carries mTLS) and both fixes lint clean.
	"ambient/waypoint-bypass": {"MG016"},
}

func fixtureSets(t *testing.T) []fixtures.Set {
	t.Helper()
	k, err := kuma.Variants(kuma.Defaults())
	if err != nil {
		t.Fatalf("kuma fixtures: %v", err)
	}
	i, err := istio.Variants(istio.Options{JWKS: testJWKS})
	if err != nil {
		t.Fatalf("istio fixtures: %v", err)
	}
	a, err := ambient.Variants(ambient.Options{Options: istio.Options{JWKS: testJWKS}})
	if err != nil {
		t.Fatalf("ambient fixtures: %v", err)
	}
	return append(append(k, i...), a...)
}

// TestProjectFixtures lints every variant of fixtures/kuma, istio and ambient
// the way a user would: rendered to YAML, parsed from a file.
func TestProjectFixtures(t *testing.T) {
	sets := fixtureSets(t)
	seen := map[string]bool{}
	for _, s := range sets {
		seen[s.Name] = true
		t.Run(s.Name, func(t *testing.T) {
			data, err := fixtures.ToYAML(s.Objects...)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := Parse(strings.ReplaceAll(s.Name, "/", "_")+".yaml", data)
			if err != nil {
				t.Fatal(err)
			}
			found := Run(NewModel(objs))
			var got []string
			errs := 0
			for _, f := range found {
				if !slices.Contains(got, f.RuleID) {
					got = append(got, f.RuleID)
				}
				if f.Severity == SeverityError {
					errs++
				}
			}
			sort.Strings(got)
			want, listed := fixtureExpectations[s.Name]
			switch {
			case listed && strings.Join(got, ",") != strings.Join(want, ","):
				t.Fatalf("%s (reproduction=%v): got rules %v, want %v\n%s", s.Name, s.Reproduction, got, want, describe(found))
			case !listed && s.Reproduction && errs == 0:
				t.Fatalf("%s is a reproduction but lint finds no error:\n%s", s.Name, describe(found))
			case !listed && !s.Reproduction && len(found) > 0:
				t.Fatalf("%s is a fixed variant but lint finds:\n%s", s.Name, describe(found))
			}
			if slices.Contains(want, "MG001") {
				for _, f := range found {
					if !strings.Contains(f.Message, "Pod IP") || len(f.Related) == 0 {
						t.Errorf("Pod-IP finding does not name the route and the Service: %s", f.Message)
					}
				}
			}
		})
	}
	for name := range fixtureExpectations {
		if !seen[name] {
			t.Errorf("expectation for %s, but the fixtures have no such variant (renamed?)", name)
		}
	}
}
