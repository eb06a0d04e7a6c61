package bench

import (
	"fmt"
	"slices"
	"strings"
)

// HopEvidence is what the backend's side of the mesh counted during one
// attack: connections or requests that arrived over mutual TLS, and those
// that did not. The unit depends on the mesh: TLS handshakes on Kuma's
// inbound listener, istio_requests_total at the destination sidecar,
// connections ztunnel opened to the backend in ambient mode.
type HopEvidence struct {
	Source  string `json:"source"` // where the counters were read
	Unit    string `json:"unit"`   // "handshakes", "requests" or "connections"
	MTLS    int64  `json:"mtls"`
	NotMTLS int64  `json:"not_mtls"`
	Error   string `json:"error,omitempty"` // why the counters could not be read
}

// Proof statuses: a mode is labelled mTLS only with evidence from its own
// attacks.
const (
	ProofMTLS       = "mtls"
	ProofNotMTLS    = "not mtls"
	ProofUnverified = "unverified"
)

// MTLSProof is a mode's verdict over all its attacks, with the evidence it
// rests on.
type MTLSProof struct {
	Mode     string `json:"mode"`
	Status   string `json:"status"`
	MTLS     int64  `json:"mtls"`
	NotMTLS  int64  `json:"not_mtls"`
	Unit     string `json:"unit"`
	Evidence string `json:"evidence"`
}

// ProveMTLS judges every mode whose runs carry hop evidence (modes that do
// not cross the mesh carry none and get no verdict), in the summary's mode
// order.
func ProveMTLS(modes []string, runs []Run) []MTLSProof {
	byMode := map[string][]HopEvidence{}
	for _, r := range runs {
		if r.Hop != nil {
			byMode[r.Mode] = append(byMode[r.Mode], *r.Hop)
		}
	}
	var out []MTLSProof
	for _, m := range modes {
		if hops := byMode[m]; len(hops) > 0 {
			out = append(out, judgeHops(m, hops))
		}
	}
	return out
}

// judgeHops: any traffic that was not mutual TLS makes the mode not mTLS;
// no mutual TLS counted at all leaves it unverified, whatever the mesh's
// configuration says.
func judgeHops(mode string, hops []HopEvidence) MTLSProof {
	p := MTLSProof{Mode: mode, Unit: hops[0].Unit}
	var sources, errs []string
	for _, h := range hops {
		p.MTLS += h.MTLS
		p.NotMTLS += h.NotMTLS
		if !slices.Contains(sources, h.Source) {
			sources = append(sources, h.Source)
		}
		if h.Error != "" && !slices.Contains(errs, h.Error) {
			errs = append(errs, h.Error)
		}
	}
	counted := fmt.Sprintf("%d %s over mutual TLS, %d not, at %s over %d attacks", p.MTLS, p.Unit, p.NotMTLS, strings.Join(sources, ", "), len(hops))
	switch {
	case p.NotMTLS > 0:
		p.Status, p.Evidence = ProofNotMTLS, counted
	case p.MTLS > 0:
		p.Status, p.Evidence = ProofMTLS, counted
	case len(errs) > 0:
		p.Status, p.Evidence = ProofUnverified, "the counters could not be read: "+strings.Join(errs, "; ")
	default:
		p.Status, p.Evidence = ProofUnverified, counted+": nothing new reached the backend during the attacks (connections pooled from before the run prove nothing); run with more connections or a fresh cluster"
	}
	return p
}

// mtlsEnabled is true only when there are verdicts and every one is mTLS.
func mtlsEnabled(proofs []MTLSProof) bool {
	for _, p := range proofs {
		if p.Status != ProofMTLS {
			return false
		}
	}
	return len(proofs) > 0
}
