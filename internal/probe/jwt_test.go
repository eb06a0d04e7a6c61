package probe

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

var testNow = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

func newTestIssuer(t *testing.T) *JWTIssuer {
	t.Helper()
	j, err := NewJWTIssuer("https://auth.example.com", "order-service", "customer-42")
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestJWKSHoldsOnlyThePublicKey(t *testing.T) {
	j := newTestIssuer(t)
	raw, err := j.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(raw), &set); err != nil {
		t.Fatalf("JWKS %s: %v", raw, err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS has %d keys, want 1", len(set.Keys))
	}
	k := set.Keys[0]
	if !k.IsPublic() || k.KeyID != j.KeyID || k.Algorithm != "ES256" {
		t.Errorf("JWKS key: public=%v kid=%q alg=%q; want public, kid %q, ES256", k.IsPublic(), k.KeyID, k.Algorithm, j.KeyID)
	}
	if strings.Contains(raw, `"d"`) {
		t.Errorf("JWKS leaks the private scalar: %s", raw)
	}
}

// Each kind must fail verification for its own reason only, or the table
// would test something other than what its row says.
func TestMintedKindsVerifyAsNamed(t *testing.T) {
	j := newTestIssuer(t)
	cases := []struct {
		kind TokenKind
		want error // nil: verifies
	}{
		{TokenValid, nil},
		{TokenValidMulti, nil},
		{TokenValidList, nil},
		{TokenNoScope, nil},
		{TokenScopeSubstring, nil},
		{TokenExpired, jwt.ErrTokenExpired},
		{TokenWrongIssuer, jwt.ErrTokenInvalidIssuer},
		{TokenWrongAudience, jwt.ErrTokenInvalidAudience},
		{TokenBadSignature, jwt.ErrTokenSignatureInvalid},
	}
	for _, c := range cases {
		t.Run(string(c.kind), func(t *testing.T) {
			tok, err := j.Mint(c.kind, testNow)
			if err != nil {
				t.Fatal(err)
			}
			err = j.Verify(tok, testNow)
			if c.want == nil && err != nil {
				t.Fatalf("%s token should verify: %v", c.kind, err)
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("%s token: got %v, want %v", c.kind, err, c.want)
			}
		})
	}
}

func TestMintNoneIsEmptyAndUnknownKindFails(t *testing.T) {
	j := newTestIssuer(t)
	if tok, err := j.Mint(TokenNone, testNow); err != nil || tok != "" {
		t.Errorf("Mint(none) = %q, %v; want empty", tok, err)
	}
	if _, err := j.Mint("bogus", testNow); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("Mint(bogus) error = %v; want one naming the kind", err)
	}
}

func TestEnvoyPayloadHeaderIsUnpaddedBase64URLOfThePayload(t *testing.T) {
	j := newTestIssuer(t)
	for _, kind := range []TokenKind{TokenValid, TokenValidMulti, TokenValidList, TokenNoScope} {
		t.Run(string(kind), func(t *testing.T) {
			tok, _ := j.Mint(kind, testNow)
			h, err := EnvoyPayloadHeader(tok)
			if err != nil {
				t.Fatal(err)
			}
			if strings.ContainsAny(h, "=+/.") {
				t.Errorf("header %q contains padding or non-URL-safe characters", h)
			}
			want, _ := j.Claims(kind, testNow)
			wantJSON, _ := json.Marshal(want)
			if enc := base64.RawURLEncoding.EncodeToString(wantJSON); enc != h {
				t.Errorf("header %q is not RawURLEncoding(%s) = %q", h, wantJSON, enc)
			}
			got, err := DecodePayloadHeader(h)
			if err != nil {
				t.Fatal(err)
			}
			if got["sub"] != "customer-42" || got["iss"] != j.Issuer {
				t.Errorf("decoded claims %v lack the token's sub/iss", got)
			}
		})
	}
}

func TestEnvoyPayloadHeaderRejectsNonJWS(t *testing.T) {
	for _, in := range []string{"", "a.b", "a.b.c.d", "x.!!!.y"} {
		if _, err := EnvoyPayloadHeader(in); err == nil {
			t.Errorf("EnvoyPayloadHeader(%q) accepted a non-JWS", in)
		}
	}
}

func TestDecodePayloadHeaderAcceptsPaddedAndRejectsJunk(t *testing.T) {
	padded := base64.URLEncoding.EncodeToString([]byte(`{"sub":"a"}`))
	if !strings.HasSuffix(padded, "=") {
		t.Fatalf("test input %q should need padding", padded)
	}
	if c, err := DecodePayloadHeader(padded); err != nil || c["sub"] != "a" {
		t.Errorf("padded: %v, %v", c, err)
	}
	for _, in := range []string{"%7B%7D", "not base64!", base64.RawURLEncoding.EncodeToString([]byte(`[1,2]`))} {
		if _, err := DecodePayloadHeader(in); err == nil {
			t.Errorf("DecodePayloadHeader(%q) accepted junk", in)
		}
	}
}

// The seed guide's middleware does JSON.parse(decodeURIComponent(header)).
// On the header Envoy really sends, that throws, so the seed answers 400 to
// every request the mesh accepted; the correct decode reads the claims.
func TestSeedMiddlewareDecodeFailsOnTheRealHeader(t *testing.T) {
	j := newTestIssuer(t)
	for _, kind := range []TokenKind{TokenValid, TokenValidMulti, TokenValidList} {
		t.Run(string(kind), func(t *testing.T) {
			tok, _ := j.Mint(kind, testNow)
			h, _ := EnvoyPayloadHeader(tok)
			if _, err := DecodePayloadHeader(h); err != nil {
				t.Fatalf("correct decode failed: %v", err)
			}
			_, err := SeedNaiveDecode(h)
			if !errors.Is(err, ErrSeedSyntaxError) {
				t.Fatalf("seed decode of %q: got %v, want %v", h, err, ErrSeedSyntaxError)
			}
			if got := SeedMiddlewareStatus(h, testNow); got != 400 {
				t.Errorf("seed middleware answers %d to a mesh-verified payload, want 400 (its catch branch)", got)
			}
		})
	}
}

// The seed decode only works on a header nobody sends: URI-encoded JSON.
// This pins the Go rendering to the JavaScript semantics.
func TestSeedNaiveDecodeMatchesJavaScript(t *testing.T) {
	cases := []struct {
		in      string
		wantErr error
	}{
		{`%7B%22sub%22%3A%22a%22%7D`, nil},      // encodeURIComponent(JSON)
		{`{"sub":"a+b"}`, nil},                  // '+' is not a space for decodeURIComponent
		{`%E0%A4%A`, ErrSeedURIError},           // truncated escape
		{`%FF`, ErrSeedURIError},                // invalid UTF-8
		{`eyJzdWIiOiJhIn0`, ErrSeedSyntaxError}, // the real header shape
	}
	for _, c := range cases {
		v, err := SeedNaiveDecode(c.in)
		if c.wantErr == nil {
			if err != nil {
				t.Errorf("SeedNaiveDecode(%q): %v", c.in, err)
			}
			if m, ok := v.(map[string]any); !ok || !strings.HasPrefix(m["sub"].(string), "a") {
				t.Errorf("SeedNaiveDecode(%q) = %v", c.in, v)
			}
			continue
		}
		if !errors.Is(err, c.wantErr) {
			t.Errorf("SeedNaiveDecode(%q) error = %v, want %v", c.in, err, c.wantErr)
		}
	}
}

// Were the seed middleware given decodable JSON, its String.includes would
// still accept a scope that merely contains "orders:read".
func TestSeedMiddlewareScopeIsASubstringTest(t *testing.T) {
	cases := []struct {
		payload string
		want    int
	}{
		{`{"exp":9999999999,"scope":"orders:readonly"}`, 200}, // substring: wrongly allowed
		{`{"exp":9999999999,"scope":["orders:readonly"]}`, 403},
		{`{"exp":9999999999}`, 403},
		{`{"exp":1,"scope":"orders:read"}`, 401},
		{`{"scope":"orders:read"}`, 200}, // undefined < now is false: no exp passes
		{`null`, 400},
		{`7`, 403},
	}
	for _, c := range cases {
		if got := SeedMiddlewareStatus(c.payload, testNow); got != c.want {
			t.Errorf("seed middleware on %s = %d, want %d", c.payload, got, c.want)
		}
	}
	if got := SeedMiddlewareStatus("", testNow); got != 401 {
		t.Errorf("seed middleware without header = %d, want 401", got)
	}
}

func TestNewJWTIssuerNeedsNames(t *testing.T) {
	if _, err := NewJWTIssuer("", "aud", "sub"); err == nil {
		t.Error("empty issuer accepted")
	}
}

func BenchmarkMintValid(b *testing.B) {
	j, err := NewJWTIssuer("https://auth.example.com", "order-service", "customer-42")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := j.Mint(TokenValid, testNow); err != nil {
			b.Fatal(err)
		}
	}
}
