package scenarios

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/meshgate/meshgate/fixtures/apps/echo/echoserver"
	"github.com/meshgate/meshgate/internal/golden"
	"github.com/meshgate/meshgate/internal/probe"
)

var jwtNow = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

func jwtIssuer(t *testing.T) *probe.JWTIssuer {
	t.Helper()
	iss, err := probe.NewJWTIssuer("https://auth.example.com", "order-service", "customer-42")
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func TestJWTTableRowsAreConsistent(t *testing.T) {
	rows := JWTTable()
	names := map[string]bool{}
	kinds := map[probe.TokenKind]bool{}
	for _, r := range rows {
		if names[r.Name] {
			t.Errorf("row name %q used twice (Ginkgo specs need unique names)", r.Name)
		}
		names[r.Name] = true
		kinds[r.Token] = true
		if err := r.CheckConsistent(); err != nil {
			t.Error(err)
		}
	}
	for _, k := range probe.TokenKinds() {
		if !kinds[k] {
			t.Errorf("token kind %s has no row", k)
		}
	}
	if len(JWTRows(PolicyClaims))+len(JWTRows(PolicyRequestAuthOnly)) != len(rows) {
		t.Error("rows outside the two policies")
	}
}

func TestCheckConsistentCatchesContradictions(t *testing.T) {
	bad := []JWTRow{
		{Name: "mesh 200", Layer: LayerRBAC, Status: 200, Body: BodyRBACDenied, BackendStatus: 403, Why: "x"},
		{Name: "no body", Layer: LayerJWTAuthn, Status: 401, BackendStatus: 401, Why: "x"},
		{Name: "unmarked mesh-only", Layer: LayerJWTAuthn, Status: 401, Body: BodyIssuer, BackendStatus: 200, Why: "x"},
		{Name: "backend disagrees", Layer: LayerBackend, Status: 200, BackendStatus: 401, Why: "x"},
		{Name: "no source", Layer: LayerBackend, Status: 200, BackendStatus: 200},
	}
	for _, r := range bad {
		if err := r.CheckConsistent(); err == nil {
			t.Errorf("row %q accepted", r.Name)
		}
	}
}

// meshModel is what Istio 1.31 + Envoy do with a row, from the sources the
// rows cite: jwt_authn first (401, audience 403; a missing token passes),
// then RBAC (principal required, scope split on spaces, any element equal),
// then the backend. It cross-checks the table's data; the cluster suite
// checks the real mesh.
func meshModel(t *testing.T, iss *probe.JWTIssuer, req JWTRequest) (int, JWTLayer, string) {
	t.Helper()
	if req.Token != "" {
		err := iss.Verify(req.Token, jwtNow)
		switch {
		case err == nil:
		case errors.Is(err, jwt.ErrTokenInvalidAudience):
			return 403, LayerJWTAuthn, BodyAudience
		case errors.Is(err, jwt.ErrTokenExpired):
			return 401, LayerJWTAuthn, BodyExpired
		case errors.Is(err, jwt.ErrTokenInvalidIssuer):
			return 401, LayerJWTAuthn, BodyIssuer
		case errors.Is(err, jwt.ErrTokenSignatureInvalid):
			return 401, LayerJWTAuthn, BodySignature
		default:
			t.Fatalf("row %q: unmodelled verification error %v", req.Row.Name, err)
		}
	}
	if req.Row.Policy == PolicyClaims {
		if req.Token == "" {
			return 403, LayerRBAC, BodyRBACDenied
		}
		claims, err := iss.Claims(req.Row.Token, jwtNow)
		if err != nil {
			t.Fatal(err)
		}
		if !istioScopeAllows(claims["scope"]) {
			return 403, LayerRBAC, BodyRBACDenied
		}
	}
	_, status, _ := echoserver.CheckClaims(req.BackendHeader(), jwtNow)
	return status, LayerBackend, ""
}

func istioScopeAllows(scope any) bool {
	var values []string
	switch v := scope.(type) {
	case string:
		values = strings.Fields(v)
	case []string:
		values = v
	}
	for _, s := range values {
		if s == probe.ScopeOrdersRead || s == probe.ScopeOrdersWrite {
			return true
		}
	}
	return false
}

func TestJWTTableMatchesTheUpstreamModel(t *testing.T) {
	iss := jwtIssuer(t)
	for _, row := range JWTTable() {
		t.Run(row.Name, func(t *testing.T) {
			req, err := NewJWTRequest(iss, row, jwtNow)
			if err != nil {
				t.Fatal(err)
			}
			status, layer, body := meshModel(t, iss, req)
			if status != row.Status || layer != row.Layer || body != row.Body {
				t.Errorf("model says %d from %s (%q); the row says %d from %s (%q)", status, layer, body, row.Status, row.Layer, row.Body)
			}
		})
	}
}

// TestJWTTableAgainstEchoBackend drives every row's payload header, built
// as Envoy builds it, into the real echo backend handler over a socket and
// checks the backend verdict each row expects.
func TestJWTTableAgainstEchoBackend(t *testing.T) {
	iss := jwtIssuer(t)
	srv := httptest.NewServer(echoserver.New(echoserver.Options{Now: func() time.Time { return jwtNow }}))
	defer srv.Close()
	for _, row := range JWTTable() {
		t.Run(row.Name, func(t *testing.T) {
			req, err := NewJWTRequest(iss, row, jwtNow)
			if err != nil {
				t.Fatal(err)
			}
			h := req.BackendHeader()
			claims, status, cerr := echoserver.CheckClaims(h, jwtNow)
			if status != row.BackendStatus {
				t.Fatalf("CheckClaims(%q) = %d (%v), row expects %d", h, status, cerr, row.BackendStatus)
			}
			hreq, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/orders", nil)
			if h != "" {
				hreq.Header.Set(probe.PayloadHeader, h)
			}
			resp, err := srv.Client().Do(hreq)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != row.BackendStatus {
				t.Fatalf("echo backend answered %d, row expects %d: %s", resp.StatusCode, row.BackendStatus, body)
			}
			var echo echoserver.Response
			if err := json.Unmarshal(body, &echo); err != nil {
				t.Fatalf("echo body: %v", err)
			}
			if status != 200 {
				return
			}
			wantSub := iss.Subject
			if req.Token == "" { // a mesh-only row: the forgery, had it arrived
				wantSub = "admin"
			}
			if echo.Claims == nil || echo.Claims.Sub != wantSub || claims.Sub != wantSub {
				t.Errorf("backend claims %+v / %+v, want sub %q", echo.Claims, claims, wantSub)
			}
			if row.Forged && row.Layer == LayerBackend && h == req.Forged {
				t.Error("the forged header reached the backend as sent")
			}
		})
	}
}

// The seed's middleware, JSON.parse(decodeURIComponent(header)), answers 400
// to every header Envoy really sends: rows the backend accepts included.
func TestSeedMiddlewareMisreadsEveryEnvoyHeader(t *testing.T) {
	iss := jwtIssuer(t)
	for _, row := range JWTTable() {
		req, err := NewJWTRequest(iss, row, jwtNow)
		if err != nil {
			t.Fatal(err)
		}
		h := req.BackendHeader()
		if h == "" {
			continue
		}
		if got := probe.SeedMiddlewareStatus(h, jwtNow); got != 400 {
			t.Errorf("row %q: seed middleware answers %d to %q, want 400 (decode failure)", row.Name, got, h)
		}
	}
}

// The table as people read it (README), kept in step with the data:
// go test ./scenarios -run JWTTableMarkdown -update rewrites it.
func TestJWTTableMarkdownGolden(t *testing.T) {
	got, err := JWTTableMarkdown(jwtIssuer(t), jwtNow)
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "istio_jwt_table.md", []byte(got))
}
