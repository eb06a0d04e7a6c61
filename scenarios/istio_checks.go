package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/meshgate/meshgate/fixtures/apps/echo/echoserver"
	istiofx "github.com/meshgate/meshgate/fixtures/istio"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/probe"
)

func detail[T any](ev *Evidence, key string) (T, error) {
	var v T
	raw, ok := ev.Details[key]
	if !ok {
		return v, fmt.Errorf("no %s evidence was gathered", key)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("%s evidence: %w", key, err)
	}
	return v, nil
}

// policyTotals sums istio_requests_total deltas over every backend pod.
func policyTotals(ev *Evidence) (map[string]float64, error) {
	per, err := detail[map[string]map[string]float64](ev, DetailIstioRequests)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, byPolicy := range per {
		for k, v := range byPolicy {
			out[k] += v
		}
	}
	return out, nil
}

func targetList(ts []probe.ClassifiedTarget) string {
	var parts []string
	for _, t := range ts {
		parts = append(parts, t.Target+" ("+string(t.Kind)+")")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func targetsArePodIPs(want bool) Expectation {
	name := "Kong targets order-service Pod IPs (Admin API /upstreams/{id}/targets)"
	if !want {
		name = "Kong targets the Service, not Pod IPs"
	}
	return Expectation{Name: name, Kind: Precondition, Check: func(ev *Evidence) error {
		if len(ev.Targets) == 0 {
			return fmt.Errorf("Kong has no target for order-service (upstreams: %d); is the HTTPRoute accepted?", len(ev.Upstreams))
		}
		if want && !allPodIP(ev.Targets) {
			return fmt.Errorf("targets are %s: not all Pod IPs, so a failure here would prove nothing about Pod-IP routing", targetList(ev.Targets))
		}
		if !want && !nonePodIP(ev.Targets) {
			return fmt.Errorf("targets are %s: Kong still sends to Pod IPs", targetList(ev.Targets))
		}
		return nil
	}}
}

func serviceUpstreamAnnotated(o istiofx.Options, want bool) Expectation {
	return Expectation{Name: fmt.Sprintf("order-service annotation %s=true is %v", istiofx.AnnotationServiceUpstr, want), Kind: Precondition,
		Check: func(ev *Evidence) error {
			if len(ev.Services) == 0 {
				return fmt.Errorf("Service %s/%s was not read", o.Namespace, o.Backend)
			}
			got := ev.Services[0].Annotations[istiofx.AnnotationServiceUpstr] == "true"
			if got != want {
				return fmt.Errorf("Service %s/%s has annotations %v; want service-upstream %v (did a controller change it?)",
					o.Namespace, o.Backend, ev.Services[0].Annotations, want)
			}
			return nil
		}}
}

func noPlaintextAtBackend() Expectation {
	return Expectation{Name: "no request reached order-service in plaintext (istio_requests_total connection_security_policy=none)", Kind: Claim,
		Check: func(ev *Evidence) error {
			t, err := policyTotals(ev)
			if err != nil {
				return err
			}
			if t["none"] > 0 {
				return fmt.Errorf("order-service's sidecar counted %v plaintext requests under STRICT (all: %v)", t["none"], t)
			}
			return nil
		}}
}

func trafficReports(ev *Evidence) []probe.TrafficReport {
	var names []string
	for n := range ev.Traffic {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []probe.TrafficReport
	for _, n := range names {
		out = append(out, ev.Traffic[n])
	}
	return out
}

func allOK(name string) Expectation {
	return Expectation{Name: "every request through Kong answers 200", Kind: Claim, Check: func(ev *Evidence) error {
		rep, ok := ev.Traffic[name]
		if !ok || len(rep.Requests) == 0 {
			return fmt.Errorf("no traffic %q was recorded", name)
		}
		if f := rep.Fraction(probe.OutcomeOK); f != 1 {
			return fmt.Errorf("%s", rep.Summary())
		}
		return nil
	}}
}

// lastHopURIs returns, per XFCC value, the URIs of its last element: the one
// order-service's own sidecar appended (APPEND_FORWARD keeps earlier,
// client-supplied elements in front).
func lastHopURIs(ev *Evidence) ([][]string, error) {
	var out [][]string
	for _, x := range ev.XFCC {
		if x.Error != "" {
			return nil, fmt.Errorf("XFCC %q does not parse: %s", x.Raw, x.Error)
		}
		if len(x.Elements) == 0 {
			return nil, fmt.Errorf("XFCC %q has no element", x.Raw)
		}
		out = append(out, x.Elements[len(x.Elements)-1].URI)
	}
	return out, nil
}

func xfccIsExactly(name, id string) Expectation {
	return Expectation{Name: "order-service's XFCC URI is exactly " + id, Kind: Claim, Check: func(ev *Evidence) error {
		rep := ev.Traffic[name]
		for _, q := range rep.Requests {
			if q.Outcome == probe.OutcomeOK && q.XFCC == "" {
				return fmt.Errorf("request %d reached %s without X-Forwarded-Client-Cert: not over Istio mTLS", q.Seq, q.Pod)
			}
		}
		uris, err := lastHopURIs(ev)
		if err != nil {
			return err
		}
		if len(uris) == 0 {
			return fmt.Errorf("no XFCC was seen")
		}
		for _, u := range uris {
			if len(u) != 1 || u[0] != id {
				return fmt.Errorf("last XFCC element names %v, want exactly [%s]", u, id)
			}
		}
		return nil
	}}
}

func okCount(ev *Evidence) int {
	n := 0
	for _, r := range trafficReports(ev) {
		n += r.Outcomes[probe.OutcomeOK]
	}
	return n
}

func mutualTLSCounted() Expectation {
	return Expectation{Name: "istio_requests_total at order-service counts every 200 as mutual_tls", Kind: Claim, Check: func(ev *Evidence) error {
		t, err := policyTotals(ev)
		if err != nil {
			return err
		}
		if ok := okCount(ev); t[probe.MutualTLS] < float64(ok) || ok == 0 {
			return fmt.Errorf("%v mutual_tls requests counted for %d answered (all policies: %v)", t[probe.MutualTLS], ok, t)
		}
		return nil
	}}
}

func handshakeSum(ev *Evidence) int64 {
	var n int64
	for _, ds := range ev.StatDeltas {
		n += probe.SumDelta(ds)
	}
	return n
}

func handshakeFinding() Expectation {
	return Expectation{Name: "inbound ssl.handshake delta", Kind: Finding, Check: func(ev *Evidence) error {
		return fmt.Errorf("order-service sidecars' inbound listener completed %d TLS handshakes in the window (0 is possible when Kong's sidecar reuses pooled mTLS connections)", handshakeSum(ev))
	}}
}

// podIPOutcomeCoherent accepts either documented-broken (every request
// refused, no mTLS from Kong) or upgraded (every request 200 over mTLS from
// Kong's identity), never a mix or a contradiction between status and mesh
// evidence.
func podIPOutcomeCoherent(port int32) Expectation {
	kong := cluster.KongSPIFFEID(IstioTrustDomain)
	return Expectation{Name: "status codes and mesh evidence tell one story", Kind: Claim, Check: func(ev *Evidence) error {
		t, err := policyTotals(ev)
		if err != nil {
			return err
		}
		reps := trafficReports(ev)
		if len(reps) == 0 {
			return fmt.Errorf("no traffic recorded")
		}
		rep := reps[0]
		failed := rep.Fraction(probe.Outcome502, probe.Outcome503, probe.OutcomeReset)
		switch {
		case failed == 1 && t[probe.MutualTLS] == 0:
			return nil
		case rep.Fraction(probe.OutcomeOK) == 1:
			if t[probe.MutualTLS] < float64(len(rep.Requests)) {
				return fmt.Errorf("all 200 but only %v mutual_tls requests counted at order-service: %v", t[probe.MutualTLS], t)
			}
			uris, err := lastHopURIs(ev)
			if err != nil {
				return err
			}
			for _, u := range uris {
				if len(u) != 1 || u[0] != kong {
					return fmt.Errorf("all 200, but XFCC names %v, not Kong (%s)", u, kong)
				}
			}
			return nil
		}
		return fmt.Errorf("mixed or contradictory: %s; order-service counted %v", rep.Summary(), t)
	}}
}

func podIPFinding() Expectation {
	return Expectation{Name: "what the pinned Istio does with Pod-IP traffic", Kind: Finding, Check: func(ev *Evidence) error {
		reps := trafficReports(ev)
		if len(reps) == 0 {
			return nil
		}
		rep := reps[0]
		if rep.Fraction(probe.OutcomeOK) == 1 {
			return fmt.Errorf("%s: Istio carried Pod-IP traffic over mTLS, unlike its Third Party Load Balancers page (\"breaking mTLS\")", rep.Summary())
		}
		return fmt.Errorf("%s: as Istio documents, Pod-IP traffic with a Host the sidecar does not know goes out through PassthroughCluster in plaintext and STRICT refuses it; annotate the Service with service-upstream and konghq.com/host-header, and the HTTPRoute with konghq.com/preserve-host: \"false\" (KIC preserves the client's Host otherwise)", rep.Summary())
	}}
}

func plaintextAll(want probe.Outcome) Expectation {
	return Expectation{Name: "every plaintext request: " + string(want), Kind: Claim, Check: func(ev *Evidence) error {
		rs, err := detail[[]probe.RequestResult](ev, DetailPlaintext)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return fmt.Errorf("no plaintext request was sent")
		}
		for _, r := range rs {
			if r.Outcome != want {
				return fmt.Errorf("request %d: %s (%s), want %s", r.Seq, r.Outcome, r.Error, want)
			}
		}
		return nil
	}}
}

func plaintextNeverAnswered() Expectation {
	return Expectation{Name: "order-service's sidecar passed no plaintext request", Kind: Claim, Check: func(ev *Evidence) error {
		t, err := policyTotals(ev)
		if err != nil {
			return err
		}
		if t["none"] > 0 {
			return fmt.Errorf("%v plaintext requests counted under STRICT", t["none"])
		}
		return nil
	}}
}

func plaintextCounted() Expectation {
	return Expectation{Name: "order-service's sidecar counted them as plaintext (connection_security_policy=none)", Kind: Claim, Check: func(ev *Evidence) error {
		rs, err := detail[[]probe.RequestResult](ev, DetailPlaintext)
		if err != nil {
			return err
		}
		t, err := policyTotals(ev)
		if err != nil {
			return err
		}
		if t["none"] < float64(len(rs)) {
			return fmt.Errorf("%v plaintext requests counted for %d sent (all: %v)", t["none"], len(rs), t)
		}
		return nil
	}}
}

// --- the JWT table in the cluster --------------------------------------------

// JWTObservation is what one row's request showed.
type JWTObservation struct {
	Row       string             `json:"row"`
	Status    int                `json:"status"`
	Error     string             `json:"error,omitempty"`
	Layer     JWTLayer           `json:"layer,omitempty"` // observed: who answered
	Body      string             `json:"body,omitempty"`  // clipped
	Forged    string             `json:"forged,omitempty"`
	EnvoyHdr  string             `json:"envoyHeader,omitempty"` // what Envoy should forward for the token
	Received  []string           `json:"received,omitempty"`    // x-jwt-payload values the backend saw
	Backend   int                `json:"backendStatus,omitempty"`
	Claims    *echoserver.Claims `json:"claims,omitempty"`
	Decoded   map[string]any     `json:"decoded,omitempty"` // the received header, decoded
	Want      map[string]any     `json:"want,omitempty"`    // the token's claims
	SeedCode  int                `json:"seedMiddleware,omitempty"`
	LatencyMS float64            `json:"latencyMs"`
}

func (r *istioRun) jwtTableProbe(policy JWTPolicy) Probe {
	return Probe{Name: "JWT table: " + string(policy), Run: func(ctx context.Context, rt *Runtime, ev *Evidence) error {
		url := strings.TrimRight(rt.Kong.ProxyURL, "/") + r.opts.RoutePath
		rows := JWTRows(policy)
		r.convergeJWT(ctx, rt, url, rows, ev)
		var obs []JWTObservation
		for _, row := range rows {
			req, err := NewJWTRequest(r.issuer, row, time.Now())
			if err != nil {
				return err
			}
			obs = append(obs, r.callJWT(ctx, rt, url, req))
		}
		return ev.SetDetail(DetailJWTRows, obs)
	}}
}

// convergeJWT waits until the first rows (valid and token-less) answer as
// expected three times in a row: RequestAuthentication and
// AuthorizationPolicy changes reach the sidecar asynchronously.
func (r *istioRun) convergeJWT(ctx context.Context, rt *Runtime, url string, rows []JWTRow, ev *Evidence) {
	deadline, streak := time.Now().Add(rt.Timeouts.Converge), 0
	for streak < 3 {
		okAll := true
		for _, row := range rows {
			if row.Forged || (row.Token != probe.TokenValid && row.Token != probe.TokenNone) {
				continue
			}
			req, err := NewJWTRequest(r.issuer, row, time.Now())
			if err != nil || r.callJWT(ctx, rt, url, req).Status != row.Status {
				okAll = false
			}
		}
		if okAll {
			streak++
		} else {
			streak = 0
		}
		if time.Now().After(deadline) {
			ev.Note(fmt.Sprintf("JWT policy did not settle within %s; judging what it answers now", rt.Timeouts.Converge))
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(rt.Timeouts.Poll):
		}
	}
}

func (r *istioRun) callJWT(ctx context.Context, rt *Runtime, url string, req JWTRequest) JWTObservation {
	o := JWTObservation{Row: req.Row.Name, Forged: req.Forged, EnvoyHdr: req.EnvoyHeader}
	if req.Token != "" {
		if c, err := r.issuer.Claims(req.Row.Token, time.Now()); err == nil {
			b, _ := json.Marshal(c)
			_ = json.Unmarshal(b, &o.Want)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, rt.Timeouts.Request)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		o.Error = err.Error()
		return o
	}
	hreq.Header = req.Header.Clone()
	start := time.Now()
	resp, err := rt.HTTP.Do(hreq)
	if err != nil {
		o.Error = err.Error()
		return o
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	o.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	o.Status = resp.StatusCode
	o.Body = string(body)
	if len(o.Body) > 512 {
		o.Body = o.Body[:512] + "..."
	}
	var echo echoserver.Response
	switch {
	case json.Unmarshal(body, &echo) == nil && echo.Method != "":
		o.Layer, o.Backend, o.Claims = LayerBackend, echo.Status, echo.Claims
		o.Received = http.Header(echo.Headers).Values(probe.PayloadHeader)
		if len(o.Received) == 1 {
			o.Decoded, _ = probe.DecodePayloadHeader(o.Received[0])
			o.SeedCode = probe.SeedMiddlewareStatus(o.Received[0], time.Now())
		}
	case strings.Contains(o.Body, BodyRBACDenied):
		o.Layer = LayerRBAC
	case strings.HasPrefix(o.Body, "Jwt ") || strings.HasPrefix(o.Body, "Audiences in Jwt"):
		o.Layer = LayerJWTAuthn
	}
	return o
}

// DetailJWTSwitch holds what the sidecar answered once the inline
// RequestAuthentication and AuthorizationPolicy were deleted.
const DetailJWTSwitch = "jwtInlineGone"

// dropInlineJWT deletes the inline-JWKS RequestAuthentication and the
// AuthorizationPolicy, then waits until order-service's sidecar answers as
// one without them, three times in a row (or Converge passes), and records
// the last answers. The jwksUri variant is signed by the same key, and istiod
// inlines the keys it fetches from jwksUri into the sidecar's config
// (PILOT_JWT_ENABLE_REMOTE_JWKS defaults to istiod: istio/istio 1.31
// pilot/pkg/features/pilot.go, security/authn/policy_applier.go
// BuildLocalJwks), so neither the answers nor the config dump can tell the
// two apart: only an observed gap between them proves the switch.
func (r *istioRun) dropInlineJWT() Probe {
	drop := removeJWTPolicies(r.opts)
	return Probe{Name: "inline RequestAuthentication and AuthorizationPolicy deleted and gone from the sidecar", Run: func(ctx context.Context, rt *Runtime, ev *Evidence) error {
		if err := drop.Run(ctx, rt, ev); err != nil {
			return err
		}
		url := strings.TrimRight(rt.Kong.ProxyURL, "/") + r.opts.RoutePath
		deadline, streak := time.Now().Add(rt.Timeouts.Converge), 0
		for {
			var last []JWTObservation
			for _, row := range noPolicyRows() {
				req, err := NewJWTRequest(r.issuer, row, time.Now())
				if err != nil {
					return err
				}
				last = append(last, r.callJWT(ctx, rt, url, req))
			}
			if noJWTPolicy(last) == nil {
				streak++
			} else {
				streak = 0
			}
			if streak == 3 || time.Now().After(deadline) {
				if streak < 3 {
					ev.Note(fmt.Sprintf("the sidecar still enforced a JWT policy %s after the deletion; judging the last answers", rt.Timeouts.Converge))
				}
				return ev.SetDetail(DetailJWTSwitch, last)
			}
			if err := sleep(ctx, rt.Timeouts.Poll); err != nil {
				return err
			}
		}
	}}
}

// noPolicyRows are the requests that tell a sidecar without policies from
// one with them: a valid token and no token.
func noPolicyRows() []JWTRow {
	var out []JWTRow
	for _, row := range JWTRows(PolicyClaims) {
		if !row.Forged && (row.Token == probe.TokenValid || row.Token == probe.TokenNone) {
			out = append(out, row)
		}
	}
	return out
}

// noJWTPolicy reports an answer only a JWT policy gives: without an
// AuthorizationPolicy the backend answers every request (no RBAC 403), and
// without a RequestAuthentication no x-jwt-payload reaches it (nothing
// verified the token).
func noJWTPolicy(obs []JWTObservation) error {
	if len(obs) == 0 {
		return fmt.Errorf("no request was sent after the deletion")
	}
	for _, o := range obs {
		switch {
		case o.Error != "":
			return fmt.Errorf("row %q after the deletion: %s", o.Row, o.Error)
		case o.Layer != LayerBackend:
			return fmt.Errorf("row %q after the deletion: %d from %q (body %q), so a policy still answers", o.Row, o.Status, o.Layer, o.Body)
		case len(o.Received) > 0:
			return fmt.Errorf("row %q after the deletion: the backend still received x-jwt-payload, so a RequestAuthentication still verifies tokens", o.Row)
		}
	}
	return nil
}

// inlineJWTGone is the precondition of the jwksUri phase: its rows prove
// nothing unless the inline configuration was seen gone first.
func inlineJWTGone() Expectation {
	return Expectation{Name: "the inline-JWKS policy was gone from the sidecar before the jwksUri one was applied", Kind: Precondition, Check: func(ev *Evidence) error {
		obs, err := detail[[]JWTObservation](ev, DetailJWTSwitch)
		if err != nil {
			return err
		}
		return noJWTPolicy(obs)
	}}
}

func jwtRowHolds(row JWTRow) Expectation {
	return Expectation{Name: "row: " + row.Name, Kind: Claim, Check: func(ev *Evidence) error {
		obs, err := detail[[]JWTObservation](ev, DetailJWTRows)
		if err != nil {
			return err
		}
		for _, o := range obs {
			if o.Row == row.Name {
				return checkJWTObservation(row, o)
			}
		}
		return fmt.Errorf("row %q was not sent", row.Name)
	}}
}

func checkJWTObservation(row JWTRow, o JWTObservation) error {
	if o.Error != "" {
		return fmt.Errorf("request failed: %s", o.Error)
	}
	if o.Status != row.Status || o.Layer != row.Layer {
		return fmt.Errorf("got %d from %q, want %d from %s (%s); body %q", o.Status, o.Layer, row.Status, row.Layer, row.Why, o.Body)
	}
	if row.Layer != LayerBackend {
		if !strings.Contains(o.Body, row.Body) {
			return fmt.Errorf("%s refused with body %q, want %q", row.Layer, o.Body, row.Body)
		}
		return nil
	}
	if o.Backend != row.BackendStatus {
		return fmt.Errorf("backend verdict %d, want %d", o.Backend, row.BackendStatus)
	}
	for _, v := range o.Received {
		if o.Forged != "" && v == o.Forged {
			return fmt.Errorf("the client's forged x-jwt-payload reached the backend as sent")
		}
	}
	if o.EnvoyHdr == "" {
		if len(o.Received) != 0 {
			return fmt.Errorf("no token, yet the backend received x-jwt-payload %q", o.Received)
		}
		return nil
	}
	if len(o.Received) != 1 || o.Received[0] != o.EnvoyHdr {
		return fmt.Errorf("backend received x-jwt-payload %q, want exactly the token's payload segment %q (base64url, no padding)", o.Received, o.EnvoyHdr)
	}
	if !reflect.DeepEqual(o.Decoded, o.Want) {
		return fmt.Errorf("x-jwt-payload decodes to %v, want the token's claims %v", o.Decoded, o.Want)
	}
	return nil
}

func seedMiddlewareFinding() Expectation {
	return Expectation{Name: "the seed guide's TypeScript middleware on the real header", Kind: Finding, Check: func(ev *Evidence) error {
		obs, err := detail[[]JWTObservation](ev, DetailJWTRows)
		if err != nil {
			return nil
		}
		n, misread := 0, 0
		for _, o := range obs {
			if len(o.Received) == 1 {
				n++
				if o.SeedCode == 400 && o.Backend == 200 {
					misread++
				}
			}
		}
		if n == 0 {
			return nil
		}
		return fmt.Errorf("%d of %d x-jwt-payload headers the backend accepted would get 400 from JSON.parse(decodeURIComponent(header)): Envoy sends base64url without padding; decode it with base64url (RawURLEncoding), not decodeURIComponent", misread, n)
	}}
}

// DetailKongHost is what decides the Host Kong sends to order-service
// (KongHostConfig).
const DetailKongHost = "kongHost"

// KongHostConfig is read from Kong's Admin API: the preserve_host of every
// route to order-service and the host_header of its upstream. Kong 3.9's
// balancer sends host_header only when the route's preserve_host is false
// (kong/runloop/balancer/init.lua set_host_header returns first while it
// is set), and KIC 3.5 creates HTTPRoute routes with preserve_host=true
// unless the HTTPRoute says konghq.com/preserve-host: "false"
// (KIC v3.5.13 subtranslator/httproute.go, kongstate/route.go
// overridePreserveHost): the upstream's host_header alone proves nothing.
type KongHostConfig struct {
	Routes     map[string]bool `json:"routes"` // route name -> preserve_host
	HostHeader string          `json:"hostHeader,omitempty"`
}

// sendsHost reports whether Kong sends want: every route has preserve_host
// off and the upstream's host_header is want.
func (c KongHostConfig) sendsHost(want string) error {
	if len(c.Routes) == 0 {
		return fmt.Errorf("Kong's admin API lists no route to %s", want)
	}
	var keeps []string
	for name, preserve := range c.Routes {
		if preserve {
			keeps = append(keeps, name)
		}
	}
	sort.Strings(keeps)
	switch {
	case len(keeps) > 0:
		return fmt.Errorf("Kong route(s) %s have preserve_host=true, so Kong forwards the client's Host and ignores the upstream's host_header %q "+
			"(annotate the HTTPRoute konghq.com/preserve-host: \"false\")", strings.Join(keeps, ", "), c.HostHeader)
	case c.HostHeader != want:
		return fmt.Errorf("Kong's order-service upstream has host_header %q, want %q (annotate the Service konghq.com/host-header: %s)", c.HostHeader, want, want)
	}
	return nil
}

// kongHostProbe polls Kong's /routes and /upstreams until Kong would send
// want as Host to order-service (KongHostConfig), or Converge passes, and
// records the last configuration seen.
func kongHostProbe(o istiofx.Options, want string) Probe {
	return Probe{Name: "Kong's preserve_host and host_header for order-service", Run: func(ctx context.Context, rt *Runtime, ev *Evidence) error {
		deadline := time.Now().Add(rt.Timeouts.Converge)
		for {
			cfg, err := readKongHost(ctx, rt, o)
			if err != nil {
				return err
			}
			if cfg.sendsHost(want) == nil || time.Now().After(deadline) {
				return ev.SetDetail(DetailKongHost, cfg)
			}
			if err := sleep(ctx, rt.Timeouts.Poll); err != nil {
				return err
			}
		}
	}}
}

func readKongHost(ctx context.Context, rt *Runtime, o istiofx.Options) (KongHostConfig, error) {
	cfg := KongHostConfig{Routes: map[string]bool{}}
	var routes struct {
		Data []struct {
			Name         string `json:"name"`
			PreserveHost bool   `json:"preserve_host"`
		} `json:"data"`
	}
	if err := adminJSON(ctx, rt, "/routes", &routes); err != nil {
		return cfg, err
	}
	// KIC names HTTPRoute routes httproute.<namespace>.<name>.<rule>.<match>
	// (KIC v3.5.13 subtranslator/httproute.go translateToKongRouteName).
	for _, r := range routes.Data {
		if strings.Contains(r.Name, o.Namespace+"."+o.Backend+".") {
			cfg.Routes[r.Name] = r.PreserveHost
		}
	}
	var ups struct {
		Data []struct {
			Name       string  `json:"name"`
			HostHeader *string `json:"host_header"`
		} `json:"data"`
	}
	if err := adminJSON(ctx, rt, "/upstreams", &ups); err != nil {
		return cfg, err
	}
	for _, u := range ups.Data {
		if strings.Contains(u.Name, o.Backend) && u.HostHeader != nil {
			cfg.HostHeader = *u.HostHeader
		}
	}
	return cfg, nil
}

func adminJSON(ctx context.Context, rt *Runtime, path string, v any) error {
	body, err := rt.Kong.Admin.Get(ctx, path)
	if err != nil {
		return fmt.Errorf("kong admin %s: %w", path, err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("kong admin %s: %w", path, err)
	}
	return nil
}

// kongSendsHost is the precondition of every phase that relies on Kong
// sending the Service's name as Host: Kong's configuration says so, and
// every answer of the echo backend in the phase's traffic shows that Host
// (Kong appends :port for ports other than 80).
func kongSendsHost(want string) Expectation {
	return Expectation{Name: "Kong sends Host: " + want + " upstream (preserve_host off and host_header set)", Kind: Precondition, Check: func(ev *Evidence) error {
		cfg, err := detail[KongHostConfig](ev, DetailKongHost)
		if err != nil {
			return err
		}
		if err := cfg.sendsHost(want); err != nil {
			return err
		}
		return backendSawHost(ev, want)
	}}
}

// backendHostIs claims that order-service received the Service's name as
// Host: the Host its sidecar routed by, seen from the far end.
func backendHostIs(want string) Expectation {
	return Expectation{Name: "order-service received Host: " + want, Kind: Claim, Check: func(ev *Evidence) error {
		return backendSawHost(ev, want)
	}}
}

// backendSawHost checks the Host each echo answer reports (port ignored).
func backendSawHost(ev *Evidence, want string) error {
	for _, rep := range trafficReports(ev) {
		for _, q := range rep.Requests {
			if q.Pod == "" {
				continue // not answered by the echo backend
			}
			if got := hostOnly(q.Host); !strings.EqualFold(got, want) {
				return fmt.Errorf("request %d reached %s with Host %q, want %s", q.Seq, q.Pod, q.Host, want)
			}
		}
	}
	return nil
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

func hostRoutingFinding() Expectation {
	return Expectation{Name: "does the sidecar route Pod-IP traffic by Host?", Kind: Finding, Check: func(ev *Evidence) error {
		reps := trafficReports(ev)
		if len(reps) == 0 {
			return nil
		}
		rep := reps[0]
		if rep.Fraction(probe.OutcomeOK) == 1 {
			return fmt.Errorf("%s: with the Service's name as Host, Kong's sidecar routed Pod-IP traffic to the Service's cluster over mTLS: in Istio the Host header, not the dialled IP, decides", rep.Summary())
		}
		return fmt.Errorf("%s: even with the Service's name as Host, Pod-IP traffic was not upgraded to mTLS", rep.Summary())
	}}
}
