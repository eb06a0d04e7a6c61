package probe

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// PayloadHeader is the header Istio's RequestAuthentication writes the
// verified JWT payload to in meshgate's fixtures (outputPayloadToHeader).
const PayloadHeader = "x-jwt-payload"

// Scopes the fixtures' AuthorizationPolicy and the echo backend accept.
const (
	ScopeOrdersRead  = "orders:read"
	ScopeOrdersWrite = "orders:write"
)

// A TokenKind names one kind of token the JWT table drives through the mesh.
type TokenKind string

// Token kinds. Each differs from TokenValid in exactly one respect.
const (
	TokenNone           TokenKind = "none"            // no Authorization header at all
	TokenValid          TokenKind = "valid"           // scope "orders:read"
	TokenValidMulti     TokenKind = "valid-multi"     // scope "profile orders:write" (space-delimited)
	TokenValidList      TokenKind = "valid-list"      // scope ["orders:read"] (JSON array)
	TokenExpired        TokenKind = "expired"         // exp an hour ago
	TokenWrongIssuer    TokenKind = "wrong-issuer"    // iss not configured in RequestAuthentication
	TokenWrongAudience  TokenKind = "wrong-audience"  // aud not in the rule's audiences
	TokenBadSignature   TokenKind = "bad-signature"   // signed by another key under the same kid
	TokenNoScope        TokenKind = "no-scope"        // no scope claim
	TokenScopeSubstring TokenKind = "scope-substring" // scope "orders:readonly": a substring, not a token
)

// TokenKinds lists every kind in table order.
func TokenKinds() []TokenKind {
	return []TokenKind{TokenNone, TokenValid, TokenValidMulti, TokenValidList, TokenExpired,
		TokenWrongIssuer, TokenWrongAudience, TokenBadSignature, TokenNoScope, TokenScopeSubstring}
}

// JWTIssuer holds one run's signing key. meshgate mints a fresh EC P-256 key
// per run, so no key is ever committed or shared between runs.
type JWTIssuer struct {
	Issuer   string
	Audience string
	Subject  string
	KeyID    string
	key      *ecdsa.PrivateKey
	other    *ecdsa.PrivateKey // signs TokenBadSignature under KeyID
}

// NewJWTIssuer generates the run's key pair (and a second key for the
// bad-signature token).
func NewJWTIssuer(issuer, audience, subject string) (*JWTIssuer, error) {
	if issuer == "" || audience == "" || subject == "" {
		return nil, fmt.Errorf("JWT issuer: issuer %q, audience %q and subject %q must all be set", issuer, audience, subject)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("JWT issuer: generate P-256 key: %w", err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("JWT issuer: generate second P-256 key: %w", err)
	}
	j := &JWTIssuer{Issuer: issuer, Audience: audience, Subject: subject, key: key, other: other}
	pub := j.publicJWK()
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("JWT issuer: key thumbprint: %w", err)
	}
	j.KeyID = hex.EncodeToString(thumb[:8])
	return j, nil
}

func (j *JWTIssuer) publicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &j.key.PublicKey, KeyID: j.KeyID, Algorithm: string(jose.ES256), Use: "sig"}
}

// JWKS is the public key set, as RequestAuthentication's inline `jwks` field
// and the in-cluster jwksUri serve it.
func (j *JWTIssuer) JWKS() (string, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{j.publicJWK()}}
	b, err := json.Marshal(set)
	if err != nil {
		return "", fmt.Errorf("JWKS for issuer %s: %w", j.Issuer, err)
	}
	return string(b), nil
}

// Claims returns the claims a token of this kind carries at time now.
func (j *JWTIssuer) Claims(kind TokenKind, now time.Time) (jwt.MapClaims, error) {
	c := jwt.MapClaims{
		"iss":   j.Issuer,
		"sub":   j.Subject,
		"aud":   j.Audience,
		"iat":   now.Add(-time.Minute).Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"scope": ScopeOrdersRead,
	}
	switch kind {
	case TokenValid, TokenBadSignature:
	case TokenValidMulti:
		c["scope"] = "profile " + ScopeOrdersWrite
	case TokenValidList:
		c["scope"] = []string{ScopeOrdersRead}
	case TokenExpired:
		c["iat"] = now.Add(-2 * time.Hour).Unix()
		c["exp"] = now.Add(-time.Hour).Unix()
	case TokenWrongIssuer:
		c["iss"] = j.Issuer + "/not-this-one"
	case TokenWrongAudience:
		c["aud"] = j.Audience + "-elsewhere"
	case TokenNoScope:
		delete(c, "scope")
	case TokenScopeSubstring:
		c["scope"] = ScopeOrdersRead + "only"
	default:
		return nil, fmt.Errorf("token kind %q has no claims; use one of %v", kind, TokenKinds())
	}
	return c, nil
}

// Mint signs a token of the given kind (ES256, kid set). TokenNone yields "".
func (j *JWTIssuer) Mint(kind TokenKind, now time.Time) (string, error) {
	if kind == TokenNone {
		return "", nil
	}
	claims, err := j.Claims(kind, now)
	if err != nil {
		return "", err
	}
	return j.sign(kind, claims)
}

// MintValidFor signs a valid token that expires validFor after now: for a
// bench that outlasts the table tokens' hour.
func (j *JWTIssuer) MintValidFor(now time.Time, validFor time.Duration) (string, error) {
	claims, err := j.Claims(TokenValid, now)
	if err != nil {
		return "", err
	}
	claims["exp"] = now.Add(validFor).Unix()
	return j.sign(TokenValid, claims)
}

func (j *JWTIssuer) sign(kind TokenKind, claims jwt.MapClaims) (string, error) {
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = j.KeyID
	key := j.key
	if kind == TokenBadSignature {
		key = j.other
	}
	s, err := tok.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign %s token for %s: %w", kind, j.Issuer, err)
	}
	return s, nil
}

// Verify checks a token the way the mesh's jwt_authn filter does (signature,
// issuer, audience, expiry). Tests use it to prove each minted kind fails for
// the intended reason only.
func (j *JWTIssuer) Verify(token string, now time.Time) error {
	_, err := jwt.Parse(token, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != j.KeyID {
			return nil, fmt.Errorf("kid %q is not in the JWKS (want %q)", kid, j.KeyID)
		}
		return &j.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(j.Issuer), jwt.WithAudience(j.Audience),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return now }))
	return err
}

// VerifyWithJWKS checks token against a published key set (the JSON a
// RequestAuthentication carries inline) at time now and returns its claims:
// what a mesh holding only that JWKS would accept.
func VerifyWithJWKS(token, jwks string, now time.Time) (jwt.MapClaims, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(jwks), &set); err != nil {
		return nil, fmt.Errorf("JWKS is not a JSON key set: %w", err)
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		keys := set.Key(kid)
		if len(keys) == 0 {
			return nil, fmt.Errorf("kid %q is not in the JWKS", kid)
		}
		return keys[0].Key, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return now }))
	return claims, err
}

// EnvoyPayloadHeader returns the x-jwt-payload value Envoy's jwt_authn filter
// forwards for a verified token: the token's own payload segment, that is
// base64url of the payload JSON without padding, byte for byte
// (envoyproxy/envoy source/extensions/filters/http/jwt_authn/authenticator.cc,
// handleGoodJwt: headers_->addCopy(forward_payload_header, jwt_->payload_str_base64url_);
// padding only with pad_forward_payload_header, which Istio never sets).
func EnvoyPayloadHeader(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("token has %d dot-separated segments, want 3 (header.payload.signature)", len(parts))
	}
	if _, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil {
		return "", fmt.Errorf("token payload segment is not unpadded base64url: %w", err)
	}
	return parts[1], nil
}

// DecodePayloadHeader decodes x-jwt-payload as a backend should: base64url
// without padding, falling back to padded base64url, into a JSON object.
func DecodePayloadHeader(h string) (map[string]any, error) {
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		var padErr error
		if raw, padErr = base64.URLEncoding.DecodeString(h); padErr != nil {
			return nil, fmt.Errorf("%s is not base64url (unpadded: %v; padded: %v)", PayloadHeader, err, padErr)
		}
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return nil, fmt.Errorf("%s decodes to %d bytes that are not a JSON object: %w", PayloadHeader, len(raw), err)
	}
	return claims, nil
}

// ErrSeedURIError and ErrSeedSyntaxError are the JavaScript exceptions the
// seed middleware's JSON.parse(decodeURIComponent(header)) can throw.
var (
	ErrSeedURIError    = errors.New("URIError: URI malformed (decodeURIComponent)")
	ErrSeedSyntaxError = errors.New("SyntaxError: not JSON (JSON.parse)")
)

// SeedNaiveDecode is a faithful Go rendering of the seed guide's TypeScript
// middleware decode, JSON.parse(decodeURIComponent(header)): percent-decoding
// (a malformed escape or invalid UTF-8 is a URIError), then JSON.parse of the
// result as any JSON value. It exists to show that the approach cannot read
// the header Envoy actually sends.
func SeedNaiveDecode(h string) (any, error) {
	dec, err := decodeURIComponent(h)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal([]byte(dec), &v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSeedSyntaxError, err)
	}
	return v, nil
}

func decodeURIComponent(s string) (string, error) {
	// url.PathUnescape decodes %XX only (no '+' to space), as decodeURIComponent does.
	dec, err := url.PathUnescape(s)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrSeedURIError, err)
	}
	if !utf8.ValidString(dec) {
		return "", fmt.Errorf("%w: escapes decode to invalid UTF-8", ErrSeedURIError)
	}
	return dec, nil
}

// SeedMiddlewareStatus is the status the seed's validateMeshIdentity would
// answer for a payload header at time now (401 missing, 400 on any decode
// error, 401 expired, 403 without the scope, else 200), including its
// JavaScript quirks: `exp < now` is false for a missing exp, and
// `scope?.includes` is a substring test when scope is a string.
func SeedMiddlewareStatus(h string, now time.Time) int {
	if h == "" {
		return 401
	}
	v, err := SeedNaiveDecode(h)
	if err != nil {
		return 400
	}
	obj, ok := v.(map[string]any)
	if !ok {
		if v == nil {
			return 400 // payload.exp on null throws a TypeError inside the try
		}
		return 403 // a number or string: exp undefined, scope undefined
	}
	if exp, ok := obj["exp"].(float64); ok && exp < float64(now.Unix()) {
		return 401
	}
	if !jsIncludes(obj["scope"], ScopeOrdersRead) && !jsIncludes(obj["scope"], ScopeOrdersWrite) {
		return 403
	}
	return 200
}

// jsIncludes mirrors `x?.includes(s)`: substring for strings, element
// equality for arrays, undefined (false) otherwise.
func jsIncludes(x any, s string) bool {
	switch v := x.(type) {
	case string:
		return strings.Contains(v, s)
	case []any:
		for _, e := range v {
			if e == s {
				return true
			}
		}
	}
	return false
}
