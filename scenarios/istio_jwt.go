package scenarios

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/meshgate/meshgate/internal/probe"
)

// JWTLayer is who answers a request of the JWT table.
type JWTLayer string

const (
	// LayerJWTAuthn: RequestAuthentication, Envoy's jwt_authn filter in the
	// backend's sidecar (a local reply whose body is jwt_verify_lib's status).
	LayerJWTAuthn JWTLayer = "jwt_authn"
	// LayerRBAC: the AuthorizationPolicy (local reply "RBAC: access denied").
	LayerRBAC JWTLayer = "rbac"
	// LayerBackend: the mesh let the request through; the echo backend's
	// claim check answered.
	LayerBackend JWTLayer = "backend"
)

// JWTPolicy is the fixture variant a row runs against.
type JWTPolicy string

const (
	PolicyClaims          JWTPolicy = "jwt-claims"                 // RequestAuthentication + AuthorizationPolicy
	PolicyRequestAuthOnly JWTPolicy = "requestauthentication-only" // no AuthorizationPolicy
)

// JWTRow is one row of the JWT table: a request through Kong into the mesh,
// what the client must see and which layer must answer, and what the
// backend's claim check says about the payload header it receives (or
// would receive, had the mesh let the request through).
type JWTRow struct {
	Name   string
	Policy JWTPolicy
	Token  probe.TokenKind
	// Forged: the client also sends its own x-jwt-payload claiming
	// sub "admin" with scope orders:write and a far exp.
	Forged bool

	Status int      // status the client sees through Kong
	Layer  JWTLayer // who answers
	Body   string   // marker of the mesh's local reply; empty when the backend answers

	// BackendStatus is echoserver.CheckClaims on BackendHeader(row).
	BackendStatus int
	// MeshOnly: the mesh refuses for a reason the payload header cannot show
	// (signature, issuer, audience, a forged header), so the backend alone
	// would accept it (BackendStatus 200). Every other row refused by the
	// mesh is refused by the backend too.
	MeshOnly bool
	// Why cites where the mesh-side expectation comes from.
	Why string
}

// Local reply bodies (jwt_verify_lib getStatusString; Envoy RBAC filter).
const (
	BodyExpired     = "Jwt is expired"
	BodyIssuer      = "Jwt issuer is not configured"
	BodyAudience    = "Audiences in Jwt are not allowed"
	BodySignature   = "Jwt verification fails"
	BodyRBACDenied  = "RBAC: access denied"
	whyJWTAuthn     = "Envoy jwt_authn filter.cc onComplete: 401, except JwtAudienceNotAllowed 403; Istio requires {provider OR allow_missing} (pilot/pkg/security/authn/policy_applier.go), so a present but invalid token is refused"
	whyAudience     = "Envoy jwt_authn filter.cc: JwtAudienceNotAllowed answers 403, not 401 (Istio's own requestauthn test 'invalid-aud' expects 403)"
	whyRBAC         = "AuthorizationPolicy ALLOW with requestPrincipals and request.auth.claims[scope]: no match, RBAC 403"
	whyScopeSplit   = "Istio marks scope space-delimited (buildSpaceDelimitedClaims), so the claim is matched token by token"
	whyAllowMissing = "RequestAuthentication alone allows a request without a token (allow_missing); only the backend refuses it"
	whySanitize     = "jwt_authn removes a client-sent forward_payload_header before verifying (verifier.cc sanitizePayloadHeaders)"
)

// JWTTable is the table the istio-jwt-claims scenario drives, in order.
func JWTTable() []JWTRow {
	return []JWTRow{
		{Name: "valid token with orders:read", Policy: PolicyClaims, Token: probe.TokenValid,
			Status: 200, Layer: LayerBackend, BackendStatus: 200, Why: "verified, principal and scope match"},
		{Name: "valid token, space-delimited scope 'profile orders:write'", Policy: PolicyClaims, Token: probe.TokenValidMulti,
			Status: 200, Layer: LayerBackend, BackendStatus: 200, Why: whyScopeSplit},
		{Name: "valid token, scope as a JSON list", Policy: PolicyClaims, Token: probe.TokenValidList,
			Status: 200, Layer: LayerBackend, BackendStatus: 200, Why: "a list claim matches when any element equals a value"},
		{Name: "no token", Policy: PolicyClaims, Token: probe.TokenNone,
			Status: 403, Layer: LayerRBAC, Body: BodyRBACDenied, BackendStatus: 401, Why: whyRBAC + " (no request principal)"},
		{Name: "expired token", Policy: PolicyClaims, Token: probe.TokenExpired,
			Status: 401, Layer: LayerJWTAuthn, Body: BodyExpired, BackendStatus: 401, Why: whyJWTAuthn},
		{Name: "wrong issuer", Policy: PolicyClaims, Token: probe.TokenWrongIssuer,
			Status: 401, Layer: LayerJWTAuthn, Body: BodyIssuer, BackendStatus: 200, MeshOnly: true, Why: whyJWTAuthn},
		{Name: "wrong audience", Policy: PolicyClaims, Token: probe.TokenWrongAudience,
			Status: 403, Layer: LayerJWTAuthn, Body: BodyAudience, BackendStatus: 200, MeshOnly: true, Why: whyAudience},
		{Name: "bad signature", Policy: PolicyClaims, Token: probe.TokenBadSignature,
			Status: 401, Layer: LayerJWTAuthn, Body: BodySignature, BackendStatus: 200, MeshOnly: true, Why: whyJWTAuthn},
		{Name: "valid token without scope", Policy: PolicyClaims, Token: probe.TokenNoScope,
			Status: 403, Layer: LayerRBAC, Body: BodyRBACDenied, BackendStatus: 403, Why: whyRBAC},
		{Name: "scope 'orders:readonly' is not 'orders:read'", Policy: PolicyClaims, Token: probe.TokenScopeSubstring,
			Status: 403, Layer: LayerRBAC, Body: BodyRBACDenied, BackendStatus: 403, Why: whyRBAC + "; " + whyScopeSplit},
		{Name: "valid token plus a forged x-jwt-payload", Policy: PolicyClaims, Token: probe.TokenValid, Forged: true,
			Status: 200, Layer: LayerBackend, BackendStatus: 200, Why: whySanitize + "; the backend sees the token's payload, not the forgery"},
		{Name: "forged x-jwt-payload without a token", Policy: PolicyClaims, Token: probe.TokenNone, Forged: true,
			Status: 403, Layer: LayerRBAC, Body: BodyRBACDenied, BackendStatus: 200, MeshOnly: true, Why: whyRBAC + "; a backend trusting the header alone would accept the forgery"},
		{Name: "RequestAuthentication only: no token passes the mesh", Policy: PolicyRequestAuthOnly, Token: probe.TokenNone,
			Status: 401, Layer: LayerBackend, BackendStatus: 401, Why: whyAllowMissing},
		{Name: "RequestAuthentication only: forged header is stripped", Policy: PolicyRequestAuthOnly, Token: probe.TokenNone, Forged: true,
			Status: 401, Layer: LayerBackend, BackendStatus: 401, Why: whyAllowMissing + "; " + whySanitize},
		{Name: "RequestAuthentication only: valid token", Policy: PolicyRequestAuthOnly, Token: probe.TokenValid,
			Status: 200, Layer: LayerBackend, BackendStatus: 200, Why: "verified token, payload forwarded"},
		{Name: "RequestAuthentication only: expired token still refused", Policy: PolicyRequestAuthOnly, Token: probe.TokenExpired,
			Status: 401, Layer: LayerJWTAuthn, Body: BodyExpired, BackendStatus: 401, Why: whyJWTAuthn},
	}
}

// JWTRows returns the rows of one policy.
func JWTRows(p JWTPolicy) []JWTRow {
	var out []JWTRow
	for _, r := range JWTTable() {
		if r.Policy == p {
			out = append(out, r)
		}
	}
	return out
}

// ForgedPayload is the x-jwt-payload a hostile client sends: well-formed
// claims that would pass the backend's check on their own.
func ForgedPayload(now time.Time) string {
	b, _ := json.Marshal(map[string]any{
		"iss": "https://attacker.example", "sub": "admin",
		"scope": probe.ScopeOrdersWrite, "exp": now.Add(24 * time.Hour).Unix(),
	})
	return base64.RawURLEncoding.EncodeToString(b)
}

// JWTRequest is a row made concrete with the run's key.
type JWTRequest struct {
	Row    JWTRow
	Token  string      // "" for TokenNone
	Header http.Header // Authorization and, when forged, x-jwt-payload
	Forged string      // the forged header value, if any
	// EnvoyHeader is the x-jwt-payload Envoy forwards once the token is
	// verified (the token's payload segment); "" without a token.
	EnvoyHeader string
}

// NewJWTRequest mints the row's token and builds its headers.
func NewJWTRequest(iss *probe.JWTIssuer, row JWTRow, now time.Time) (JWTRequest, error) {
	req := JWTRequest{Row: row, Header: http.Header{}}
	tok, err := iss.Mint(row.Token, now)
	if err != nil {
		return req, fmt.Errorf("JWT row %q: %w", row.Name, err)
	}
	req.Token = tok
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
		if req.EnvoyHeader, err = probe.EnvoyPayloadHeader(tok); err != nil {
			return req, fmt.Errorf("JWT row %q: %w", row.Name, err)
		}
	}
	if row.Forged {
		req.Forged = ForgedPayload(now)
		req.Header.Set(probe.PayloadHeader, req.Forged)
	}
	return req, nil
}

// BackendHeader is the x-jwt-payload the backend receives when the mesh
// lets the request through (Envoy strips a client's header and adds its own
// only for a verified token), or, for a row the mesh refuses, the header it
// would have received: the token's payload, or, without a token, the
// forged header a backend with nothing in front would see.
func (r JWTRequest) BackendHeader() string {
	if r.Row.Layer == LayerBackend {
		return r.EnvoyHeader
	}
	if r.Token != "" {
		return r.EnvoyHeader
	}
	return r.Forged
}

// CheckConsistent reports a row whose parts contradict each other: a mesh
// refusal without a body marker, a backend answer with another status than
// the backend verdict, a mesh-only row the backend would refuse, or a
// refusal the backend would not share without being marked mesh-only.
func (r JWTRow) CheckConsistent() error {
	switch r.Layer {
	case LayerJWTAuthn, LayerRBAC:
		if r.Status != 401 && r.Status != 403 {
			return fmt.Errorf("JWT row %q: the mesh (%s) answers 401 or 403, not %d", r.Name, r.Layer, r.Status)
		}
		if r.Body == "" {
			return fmt.Errorf("JWT row %q: a %s refusal needs its body marker to prove the layer", r.Name, r.Layer)
		}
		if r.MeshOnly != (r.BackendStatus == 200) {
			return fmt.Errorf("JWT row %q: mesh refuses, backend verdict %d, MeshOnly %v: a backend 200 must be marked mesh-only and only then",
				r.Name, r.BackendStatus, r.MeshOnly)
		}
	case LayerBackend:
		if r.Status != r.BackendStatus || r.Body != "" || r.MeshOnly {
			return fmt.Errorf("JWT row %q: when the backend answers, the client status %d must be its verdict %d, with no mesh body and not mesh-only",
				r.Name, r.Status, r.BackendStatus)
		}
	default:
		return fmt.Errorf("JWT row %q: unknown layer %q", r.Name, r.Layer)
	}
	if r.Why == "" {
		return fmt.Errorf("JWT row %q: no source for the expectation", r.Name)
	}
	return nil
}

// JWTTableMarkdown renders the table for people (README, reports), with
// what the seed guide's middleware would answer for the header each row
// delivers (or would deliver) to the backend.
func JWTTableMarkdown(iss *probe.JWTIssuer, now time.Time) (string, error) {
	var b strings.Builder
	b.WriteString("| # | policy | request | client sees | answered by | mesh body | backend verdict | seed middleware |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for i, r := range JWTTable() {
		req, err := NewJWTRequest(iss, r, now)
		if err != nil {
			return "", err
		}
		seed := probe.SeedMiddlewareStatus(req.BackendHeader(), now)
		verdict := fmt.Sprint(r.BackendStatus)
		if r.Layer != LayerBackend {
			verdict += " (had it arrived)"
		}
		if r.MeshOnly {
			verdict += ", mesh-only"
		}
		body := "-"
		if r.Body != "" {
			body = "`" + r.Body + "`"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %d | %s | %s | %s | %d |\n", i+1, r.Policy, r.Name, r.Status, r.Layer, body, verdict, seed)
	}
	return b.String(), nil
}
