package bench

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/cluster"
)

func TestExcludeLeavesModesOut(t *testing.T) {
	p, err := NewClusterPlan(ClusterOptions{Mesh: cluster.MeshKuma})
	if err != nil {
		t.Fatal(err)
	}
	// kong-mesh-jwt is not planned on Kuma; excluding it is allowed (a
	// script may pass the same list to every mesh).
	if err := p.Exclude([]string{ModeKong, ModeKongMeshJWT}); err != nil {
		t.Fatal(err)
	}
	if got := p.ModeNames(); slices.Contains(got, ModeKong) || !slices.Contains(got, ModeKongMesh) {
		t.Errorf("modes after --exclude kong: %v", got)
	}
}

// A mode whose target does not answer fails the bench before any attack,
// naming every such mode and the --exclude that goes on without them.
func TestCannotRunNamesEveryModeAndTheWayOut(t *testing.T) {
	err := cannotRun([]string{ModeKong, ModeKongMeshJWT}, []error{errors.New("mode kong cannot run: 502"), errors.New("mode kong-mesh-jwt cannot run: 403")})
	for _, want := range []string{"mode kong cannot run: 502", "mode kong-mesh-jwt cannot run: 403", "--exclude kong,kong-mesh-jwt"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	err = cannotRun([]string{ModeBaseline}, []error{errors.New("mode baseline cannot run: refused")})
	if strings.Contains(err.Error(), "--exclude") || !strings.Contains(err.Error(), "fix it first") {
		t.Errorf("a failed baseline: %q, want no --exclude advice", err)
	}
}
