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

	// The sidecar's configuration: which policies it enforces. Applying a
	// set adds its RequestAuthentication and AuthorizationPolicy; deleting
	// one (fakeMeshClient) removes it.
	mu     sync.Mutex
	ra, ap bool

	noSanitize  bool // keep a client's x-jwt-payload (an old Envoy bug)
	audience401 bool // answer 401 to a wrong audience
	reencode    bool // forward re-serialised claims, not the token's own segment
	stripPrefix bool // konghq.com/strip-path: "true" (KIC's HTTPRoute default is false)
	// frozen keeps serving the inline-JWKS configuration once it is
	// applied: later deletes and applies never reach the sidecar.
	frozen       bool
	froze        bool
	appliedNames []string
}

func (m *fakeMesh) Apply(_ context.Context, set fixtures.Set) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.appliedNames = append(m.appliedNames, set.Name)
	if m.froze {
		return nil
	}
	for _, o := range set.Objects {
		switch o.GetObjectKind().GroupVersionKind().Kind {
		case "RequestAuthentication":
			m.ra = true
		case "AuthorizationPolicy":
			m.ap = true
		}
	}
	m.froze = m.frozen && set.Name == istiofx.VariantJWTClaims
	return nil
}

// fakeMeshClient is the one client call the JWT phases make: deleting the
// policies, which reaches the fake sidecar unless it is frozen.
type fakeMeshClient struct {
	client.Client
	m *fakeMesh
}

func (c fakeMeshClient) Delete(_ context.Context, obj client.Object, _ ...client.DeleteOption) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	present := &c.m.ra
	if kind == "AuthorizationPolicy" {
		present = &c.m.ap
	}
	if !*present {
		return apierrors.NewNotFound(schema.GroupResource{Group: "security.istio.io", Resource: kind}, obj.GetName())
	}
	if !c.m.froze {
		*present = false
	}
	return nil
}

func (m *fakeMesh) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	ra, ap := m.ra, m.ap
	m.mu.Unlock()
	if ra && !m.noSanitize {
		r.Header.Del(probe.PayloadHeader)
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ra && tok != "" {
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
	if ap {
		allowed := false
		if ra && tok != "" {
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
	rt := &Runtime{Client: fakeMeshClient{m: m}, Applier: m, Kong: Kong{ProxyURL: srv.URL}, HTTP: srv.Client(), Echo: probe.DecodeEchoJSON, Timeouts: timeouts}
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

// A sidecar that keeps serving the inline-JWKS configuration answers every
// jwksUri row as expected (same key, same rules): the phase must refuse to
// judge them, and only that phase.
func TestJWKSURIPhaseNeedsTheSwitchProven(t *testing.T) {
	prs := runJWTScenario(t, func(m *fakeMesh) { m.frozen = true })
	if len(prs) != 3 {
		t.Fatalf("%d phases ran, want 3", len(prs))
	}
	for _, pr := range prs[:2] {
		if pr.Verdict != Passed {
			t.Errorf("%s: %s %s, want passed (the config freezes after it)", pr.Name, pr.Verdict, pr.Reason)
		}
	}
	uri := prs[2]
	if uri.Verdict != Failed || !strings.Contains(uri.Reason, "precondition not met") || !strings.Contains(uri.Reason, "after the deletion") {
		t.Errorf("jwksUri phase: %s %q, want a failed precondition naming what still answered after the deletion", uri.Verdict, uri.Reason)
	}
	for _, c := range uri.Checks {
		if strings.HasPrefix(c.Name, "row: ") && c.Verdict != Skipped {
			t.Errorf("%s judged (%s) on a configuration not proven to be the jwksUri one", c.Name, c.Verdict)
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
		{"strip-path true on the route", func(m *fakeMesh) { m.stripPrefix = true }, []string{"row: RequestAuthentication only: no token passes the mesh"}},
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
