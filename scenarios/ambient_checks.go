package scenarios

import (
	"context"
	"fmt"
	"sort"

	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/probe"
)

// ztunnelDelta flattens the per-ztunnel deltas (sorted by pod).
func ztunnelDelta(ev *Evidence) ([]probe.ZtunnelConnections, error) {
	byPod, err := detail[map[string][]probe.ZtunnelConnections](ev, DetailZtunnel)
	if err != nil {
		return nil, err
	}
	var pods []string
	for p := range byPod {
		pods = append(pods, p)
	}
	sort.Strings(pods)
	var all []probe.ZtunnelConnections
	for _, p := range pods {
		all = append(all, byPod[p]...)
	}
	return all, nil
}

// ztunnelMTLSFrom: the backend nodes' ztunnels opened connections during the
// probe, every one mutual TLS from id (probe.AmbientMTLSProof).
func ztunnelMTLSFrom(id string) Expectation {
	return Expectation{Name: "ztunnel on the backend's node: every new connection mTLS from " + id, Kind: Claim, Check: func(ev *Evidence) error {
		d, err := ztunnelDelta(ev)
		if err != nil {
			return err
		}
		return probe.AmbientMTLSProof(d, id)
	}}
}

// ztunnelNoMTLSFrom: no connection from id was accepted over mTLS (Kong
// outside the mesh has no identity to present).
func ztunnelNoMTLSFrom(id string) Expectation {
	return Expectation{Name: "ztunnel accepted no mTLS connection from " + id, Kind: Claim, Check: func(ev *Evidence) error {
		d, err := ztunnelDelta(ev)
		if err != nil {
			return err
		}
		for _, c := range d {
			if c.SecurityPolicy == probe.MutualTLS && c.SourcePrincipal == id {
				return fmt.Errorf("%v mTLS connections from %s: Kong is still enrolled (did the CNI agent see the label change?)", c.Count, id)
			}
		}
		return nil
	}}
}

// kongEnrolled: Kong's namespace is in ambient, so ztunnel on Kong's node
// captures its upstream connections (mTLS, and the waypoint for Services).
func kongEnrolled() Expectation {
	return Expectation{Name: "Kong's namespace is enrolled (istio.io/dataplane-mode: ambient)", Kind: Precondition, Check: func(ev *Evidence) error {
		mode, err := detail[string](ev, detailKongEnrolled)
		if err != nil {
			return err
		}
		if mode != "ambient" {
			return fmt.Errorf("namespace %s has istio.io/dataplane-mode %q: Kong's traffic is not captured by ztunnel; label it ambient (meshgate up --mesh istio-ambient does)", cluster.KongNamespace, mode)
		}
		return nil
	}}
}

// noneOK: no request of the named traffic answered 200.
func noneOK(name string) Expectation {
	return Expectation{Name: "no request through Kong answers 200", Kind: Claim, Check: func(ev *Evidence) error {
		rep, ok := ev.Traffic[name]
		if !ok || len(rep.Requests) == 0 {
			return fmt.Errorf("no traffic %q was recorded", name)
		}
		if f := rep.Fraction(probe.OutcomeOK); f != 0 {
			return fmt.Errorf("%s: plaintext from Kong reached order-service under STRICT", rep.Summary())
		}
		return nil
	}}
}

// waypointFacts: the waypoint is programmed, serves the traffic types the
// variant says (forAll: workload too; else only Services, istiod's default),
// the namespace uses it and both JWT policies target it.
func waypointFacts(forAll bool) Expectation {
	want := ""
	if forAll {
		want = "all"
	}
	return Expectation{Name: fmt.Sprintf("waypoint programmed, waypoint-for %q, used by the namespace, both policies target it", want), Kind: Precondition,
		Check: func(ev *Evidence) error {
			f, err := detail[WaypointFacts](ev, detailWaypoint)
			if err != nil {
				return err
			}
			switch {
			case !f.Programmed:
				return fmt.Errorf("waypoint %s is not Programmed: istiod has not deployed it (kubectl -n %s get gateway,pods)", f.Name, "api-system")
			case f.WaypointFor != want:
				return fmt.Errorf("waypoint %s has istio.io/waypoint-for %q, want %q", f.Name, f.WaypointFor, want)
			case f.NamespaceUse == "":
				return fmt.Errorf("the namespace has no istio.io/use-waypoint label")
			case f.Policies != 2:
				return fmt.Errorf("%d of RequestAuthentication and AuthorizationPolicy found", f.Policies)
			}
			return nil
		}}
}

// bypassed: the row's token-less request was answered by order-service
// itself (its claim check), not refused by the waypoint: the policy the
// waypoint enforces did not apply to Kong's request. A forged header that
// arrives as sent shows what jwt_authn would have stripped.
func bypassed(row string) Expectation {
	return Expectation{Name: "bypass: '" + row + "' reaches order-service, not the waypoint's RBAC", Kind: Claim, Check: func(ev *Evidence) error {
		obs, err := detail[[]JWTObservation](ev, DetailJWTRows)
		if err != nil {
			return err
		}
		for _, o := range obs {
			if o.Row != row {
				continue
			}
			if o.Layer != LayerBackend {
				return fmt.Errorf("answered %d by %q (body %q): the waypoint enforced the policy, no bypass", o.Status, o.Layer, o.Body)
			}
			if o.Forged != "" && (len(o.Received) != 1 || o.Received[0] != o.Forged) {
				return fmt.Errorf("the backend received x-jwt-payload %q, not the forged value as sent", o.Received)
			}
			return nil
		}
		return fmt.Errorf("row %q was not sent", row)
	}}
}

// ambientPlaintextProbe waits until the outside client's result has been
// settle three times in a row (policy changes reach ztunnel
// asynchronously), or Converge passes, then records fresh requests.
func ambientPlaintextProbe(url string, settle probe.Outcome) Probe {
	return Probe{Name: "plaintext client outside the mesh", Run: func(ctx context.Context, rt *Runtime, ev *Evidence) error {
		if err := settlePlaintext(ctx, rt, url, settle); err != nil {
			return err
		}
		return ev.SetDetail(DetailPlaintext, plaintextRequests(ctx, rt, url))
	}}
}
