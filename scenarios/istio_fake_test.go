package scenarios

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/fixtures/apps/echo/echoserver"
	istiofx "github.com/meshgate/meshgate/fixtures/istio"
	"github.com/meshgate/meshgate/internal/probe"
)

// fakeMesh stands in for Kong + the backend's sidecar in the JWT phases, so
// the probe and the row checks run end to end here. It does what the rows
// cite Envoy and Istio for, with switches to break each behaviour; the
// cluster suite checks the real thing.
type fakeMesh struct {
	iss     *probe.JWTIssuer
	backend http.Handler

	mu     sync.Mutex
	policy JWTPolicy // from the last applied set

	noSanitize   bool // keep a client's x-jwt-payload (an old Envoy bug)
	audience401  bool // answer 401 to a wrong audience
	reencode     bool // forward re-serialised claims, not the token's own segment
	stripPrefix  bool // Kong's default strip-path
	appliedNames []string
}

func (m *fakeMesh) Apply(_ context.Context, set fixtures.Set) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.appliedNames = append(m.appliedNames, set.Name)
	m.policy = PolicyClaims
	if set.Name == istiofx.VariantRequestAuthOnly {
		m.policy = PolicyRequestAuthOnly
	}
	return nil
}

func (m *fakeMesh) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	policy := m.policy
	m.mu.Unlock()
	if !m.noSanitize {
		r.Header.Del(probe.PayloadHeader)
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if tok != "" {
		if err := m.iss.Verify(tok, time.Now()); err != nil {
			code, body := 401, BodySignature
			switch {
			case errors.Is(err, jwt.ErrTokenInvalidAudience):
				code, body = 403, BodyAudience
				if m.audience401 {
					code = 401
				}
			case errors.Is(err, jwt.ErrTokenExpired):
				body = BodyExpired
			case errors.Is(err, jwt.ErrTokenInvalidIssuer):
				body = BodyIssuer
			}
			http.Error(w, body, code)
			return
		}
		h, _ := probe.EnvoyPayloadHeader(tok)
		if m.reencode {
			raw, _ := base64.RawURLEncoding.DecodeString(h)
			var v map[string]any
			_ = json.Unmarshal(raw, &v)
			pretty, _ := json.MarshalIndent(v, "", " ")
			h = base64.StdEncoding.EncodeToString(pretty)
		}
		r.Header.Add(probe.PayloadHeader, h)
	}
	if policy == PolicyClaims {
		allowed := false
		if tok != "" {
			claims := jwt.MapClaims{}
			_, _, _ = jwt.NewParser().ParseUnverified(tok, claims)
			allowed = istioScopeAllowsAny(claims["scope"])
		}
		if !allowed {
			http.Error(w, BodyRBACDenied, 403)
			return
		}
	}
	if m.stripPrefix {
		r.URL.Path = "/"
	}
	m.backend.ServeHTTP(w, r)
}

// istioScopeAllowsAny is istioScopeAllows for claims decoded from JSON.
func istioScopeAllowsAny(scope any) bool {
	if list, ok := scope.([]any); ok {
		var ss []string
		for _, v := range list {
			if s, ok := v.(string); ok {
				ss = append(ss, s)
			}
		}
		return istioScopeAllows(ss)
	}
	return istioScopeAllows(scope)
}

// noopDeleter is the one client call the JWT phases make (removing an
// AuthorizationPolicy left over); nothing is there to remove.
type noopDeleter struct{ client.Client }

func (noopDeleter) Delete(_ context.Context, obj client.Object, _ ...client.DeleteOption) error {
	return apierrors.NewNotFound(schema.GroupResource{Group: "security.istio.io", Resource: obj.GetObjectKind().GroupVersionKind().Kind}, obj.GetName())
}

func runJWTScenario(t *testing.T, tweak func(*fakeMesh)) []PhaseResult {
	t.Helper()
	r := newIstioRun(DefaultConfig())
	if r.err != nil {
		t.Fatal(r.err)
	}
	s := r.jwtClaims()
	// The scenario's own per-run key signs; the fake verifies with it.
	m := &fakeMesh{iss: r.issuer, backend: echoserver.New(echoserver.Options{})}
	if tweak != nil {
		tweak(m)
	}
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	timeouts := DefaultTimeouts()
	timeouts.Converge, timeouts.Poll, timeouts.Request = 300*time.Millisecond, 5*time.Millisecond, 2*time.Second
	rt := &Runtime{Client: noopDeleter{}, Applier: m, Kong: Kong{ProxyURL: srv.URL}, HTTP: srv.Client(), Echo: probe.DecodeEchoJSON, Timeouts: timeouts}
	var out []PhaseResult
	for _, p := range s.Phases {
		out = append(out, RunPhase(context.Background(), rt, p))
	}
	return out
}

func failedChecks(prs []PhaseResult) []string {
	var out []string
	for _, pr := range prs {
		if len(pr.Checks) == 0 && pr.Verdict == Failed {
			out = append(out, pr.Name+": "+pr.Reason)
		}
		for _, c := range pr.Checks {
			if c.Verdict == Failed {
				out = append(out, pr.Name+" / "+c.Name+": "+c.Detail)
			}
		}
	}
	return out
}

func TestJWTScenarioAgainstAFakeMesh(t *testing.T) {
	prs := runJWTScenario(t, nil)
	if f := failedChecks(prs); len(f) > 0 {
		t.Fatalf("a mesh that behaves as the rows cite fails checks:\n%s", strings.Join(f, "\n"))
	}
	if len(prs) != 3 {
		t.Fatalf("%d phases ran, want 3", len(prs))
	}
	for _, pr := range prs {
		if pr.Verdict != Passed {
			t.Errorf("%s: %s %s", pr.Name, pr.Verdict, pr.Reason)
		}
		if len(pr.Findings()) == 0 {
			t.Errorf("%s: no seed-middleware finding", pr.Name)
		}
	}
}

// Each broken behaviour must fail exactly the rows that depend on it.
func TestJWTScenarioCatchesABrokenMesh(t *testing.T) {
	cases := []struct {
		name  string
		tweak func(*fakeMesh)
		want  []string // substrings of failed checks
	}{
		{"forged header kept", func(m *fakeMesh) { m.noSanitize = true }, []string{"forged x-jwt-payload"}},
		{"wrong audience answered 401", func(m *fakeMesh) { m.audience401 = true }, []string{"row: wrong audience"}},
		{"payload re-encoded", func(m *fakeMesh) { m.reencode = true }, []string{"row: valid token with orders:read"}},
		{"Kong strips the path", func(m *fakeMesh) { m.stripPrefix = true }, []string{"row: RequestAuthentication only: no token passes the mesh"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			failed := strings.Join(failedChecks(runJWTScenario(t, c.tweak)), "\n")
			for _, w := range c.want {
				if !strings.Contains(failed, w) {
					t.Errorf("want a failed check containing %q; failed:\n%s", w, failed)
				}
			}
		})
	}
}
