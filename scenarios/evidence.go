package scenarios

import (
	"encoding/json"

	"github.com/meshgate/meshgate/internal/probe"
)

// Evidence is what a phase's probes gathered. Every field is JSON so the
// result file and the Ginkgo report entries carry the proof itself.
type Evidence struct {
	// Traffic by probe name: per-request transcripts.
	Traffic map[string]probe.TrafficReport `json:"traffic,omitempty"`
	// Targets Kong load-balances to, classified (Pod IP, ClusterIP, mesh VIP, hostname).
	Targets []probe.ClassifiedTarget `json:"targets,omitempty"`
	// Upstreams is Kong's raw upstream/target list.
	Upstreams []probe.UpstreamTargets `json:"upstreams,omitempty"`
	// StatDeltas by "namespace/pod": Envoy stats moved during the traffic window.
	StatDeltas map[string][]probe.StatDelta `json:"statDeltas,omitempty"`
	// XFCC the backend received, parsed.
	XFCC []XFCCObservation `json:"xfcc,omitempty"`
	// Services as found on the cluster (annotations that change Kong's targeting).
	Services []ServiceFacts `json:"services,omitempty"`
	// Pods that matter to the claim (backend replicas, the client).
	Pods []PodFacts `json:"pods,omitempty"`
	// Kong's own settings that change what the counters mean.
	Kong *KongFacts `json:"kong,omitempty"`
	// Notes are one-line observations worth a reader's time.
	Notes []string `json:"notes,omitempty"`
	// Details holds evidence of kinds this struct does not name (JWT rows, ...).
	Details map[string]json.RawMessage `json:"details,omitempty"`
}

// XFCCObservation is one distinct X-Forwarded-Client-Cert value seen.
type XFCCObservation struct {
	Raw      string              `json:"raw"`
	Count    int                 `json:"count"`
	Elements []probe.XFCCElement `json:"elements,omitempty"`
	SPIFFE   []string            `json:"spiffe,omitempty"`
	Error    string              `json:"error,omitempty"`
}

// ServiceFacts is what matters about a Service for Kong's targeting.
type ServiceFacts struct {
	Namespace    string            `json:"namespace"`
	Name         string            `json:"name"`
	Type         string            `json:"type"`
	ClusterIP    string            `json:"clusterIP,omitempty"`
	ExternalName string            `json:"externalName,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// PodFacts is what matters about a pod: where it is and whether the mesh's
// sidecar runs in it.
type PodFacts struct {
	Namespace  string   `json:"namespace"`
	Name       string   `json:"name"`
	IP         string   `json:"ip"`
	Ready      bool     `json:"ready"`
	Containers []string `json:"containers"` // init (sidecar) containers included
	Sidecar    bool     `json:"sidecar"`
}

// KongFacts are read from Kong's admin API root.
type KongFacts struct {
	Version string `json:"version,omitempty"`
	// UpstreamKeepalivePoolSize: 0 means a new upstream connection per request.
	UpstreamKeepalivePoolSize *int `json:"upstreamKeepalivePoolSize,omitempty"`
}

// Note appends an observation.
func (ev *Evidence) Note(s string) { ev.Notes = append(ev.Notes, s) }

// AddTraffic stores a traffic transcript and the XFCC values it carried.
func (ev *Evidence) AddTraffic(name string, r probe.TrafficReport) {
	if ev.Traffic == nil {
		ev.Traffic = map[string]probe.TrafficReport{}
	}
	ev.Traffic[name] = r
	counts := map[string]int{}
	var order []string
	for _, q := range r.Requests {
		if q.XFCC == "" {
			continue
		}
		if counts[q.XFCC] == 0 {
			order = append(order, q.XFCC)
		}
		counts[q.XFCC]++
	}
	for _, raw := range order {
		obs := XFCCObservation{Raw: raw, Count: counts[raw]}
		if els, err := probe.ParseXFCC(raw); err != nil {
			obs.Error = err.Error()
		} else {
			obs.Elements, obs.SPIFFE = els, probe.SPIFFEIDs(els)
		}
		ev.XFCC = append(ev.XFCC, obs)
	}
}

// SetDetail stores any JSON-encodable evidence under key.
func (ev *Evidence) SetDetail(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if ev.Details == nil {
		ev.Details = map[string]json.RawMessage{}
	}
	ev.Details[key] = b
	return nil
}
