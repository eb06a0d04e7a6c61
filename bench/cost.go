package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"

	mgprobe "github.com/meshgate/meshgate/internal/probe"
)

// ProxyUsage is what one proxy on a mode's path (all its containers: two
// ztunnels count as one component) used during one attack, from the
// kubelet's resource metrics read just before and just after it.
type ProxyUsage struct {
	Component  string   `json:"component"`  // e.g. "kong", "backend sidecar", "ztunnel"
	Containers []string `json:"containers"` // namespace/pod/container
	Cores      float64  `json:"cores"`      // CPU seconds per second between the kubelet's samples
	// WindowSeconds is the shortest span between a container's two samples.
	WindowSeconds float64 `json:"window_seconds"`
	MemoryMiB     float64 `json:"memory_mib"` // working set at the second sample
	Error         string  `json:"error,omitempty"`
}

// ProxyCost is a component's cost in a mode over its accepted runs, per
// 1000 requests per second achieved, beside the figure Istio publishes for
// the same kind of proxy.
type ProxyCost struct {
	Mode            string  `json:"mode"`
	Component       string  `json:"component"`
	CoresPer1000RPS float64 `json:"cores_per_1000_rps"`
	// MemoryMiB is the largest working set seen; memory does not scale
	// with the rate the way CPU does, so it is not divided.
	MemoryMiB float64 `json:"memory_mib"`
	Runs      int     `json:"runs"`
	Published string  `json:"published,omitempty"`
	Note      string  `json:"note,omitempty"` // why there is no figure
}

// Proxy components, named as the reports show them.
const (
	ComponentKong           = "kong"
	ComponentKongSidecar    = "kong sidecar"
	ComponentBackendSidecar = "backend sidecar"
	ComponentLoadgenSidecar = "loadgen sidecar"
	ComponentZtunnel        = "ztunnel"
	ComponentWaypoint       = "waypoint"
)

// Istio's published per-proxy cost (istio.io docs, "Performance and
// scalability", 1.24): an Envoy sidecar or waypoint 0.20 vCPU and 60 MB per
// 1000 rps, ztunnel 0.06 vCPU and 12 MB per 1000 rps.
const (
	publishedEnvoy   = "Istio 1.24 docs: 0.20 vCPU, 60 MB per 1000 rps (Envoy sidecar)"
	publishedZtunnel = "Istio 1.24 docs: 0.06 vCPU, 12 MB per 1000 rps (ztunnel)"
)

func publishedFor(component string) string {
	switch component {
	case ComponentKongSidecar, ComponentBackendSidecar, ComponentLoadgenSidecar, ComponentWaypoint:
		return publishedEnvoy
	case ComponentZtunnel:
		return publishedZtunnel
	}
	return ""
}

// usageBetween is the component's use between two scrapes of the kubelets
// holding its containers. A container missing from either scrape, or whose
// counter did not advance in time, makes the whole component an error: a
// partial sum would understate the cost.
func usageBetween(component string, keys []mgprobe.ContainerKey, before, after map[mgprobe.ContainerKey]mgprobe.ContainerUsage) ProxyUsage {
	u := ProxyUsage{Component: component, WindowSeconds: math.Inf(1)}
	var errs []string
	for _, k := range keys {
		u.Containers = append(u.Containers, k.String())
		b, okB := before[k]
		a, okA := after[k]
		window := a.CPUAt.Sub(b.CPUAt).Seconds()
		switch {
		case !okB || !okA:
			errs = append(errs, k.String()+" is missing from the kubelet's resource metrics")
		case window <= 0:
			errs = append(errs, fmt.Sprintf("%s: the kubelet took no new sample during the attack; use a --duration longer than its stats interval (about 15 s)", k))
		case a.CPUSeconds < b.CPUSeconds:
			errs = append(errs, k.String()+": the CPU counter went back (the container restarted)")
		default:
			u.Cores += (a.CPUSeconds - b.CPUSeconds) / window
			u.WindowSeconds = min(u.WindowSeconds, window)
			u.MemoryMiB += a.WorkingSetBytes / (1 << 20)
		}
	}
	if len(keys) == 0 {
		errs = append(errs, "no container found")
	}
	if len(errs) > 0 {
		return ProxyUsage{Component: component, Containers: u.Containers, Error: strings.Join(errs, "; ")}
	}
	return u
}

// ProxyCosts averages each component's cores per 1000 achieved rps over the
// mode's accepted runs (each run's own rate), in mode order, components in
// the order their runs name them.
func ProxyCosts(modes []string, runs []Run) []ProxyCost {
	type acc struct {
		per1000 []float64
		mem     float64
		errs    []string
	}
	var out []ProxyCost
	for _, mode := range modes {
		byComp := map[string]*acc{}
		var order []string
		for _, r := range runs {
			if r.Mode != mode {
				continue
			}
			for _, u := range r.Proxies {
				a := byComp[u.Component]
				if a == nil {
					a = &acc{}
					byComp[u.Component] = a
					order = append(order, u.Component)
				}
				switch {
				case u.Error != "":
					if !slices.Contains(a.errs, u.Error) {
						a.errs = append(a.errs, u.Error)
					}
				case !r.Rejected && r.ActualQPS > 0:
					a.per1000 = append(a.per1000, u.Cores*1000/r.ActualQPS)
					a.mem = max(a.mem, u.MemoryMiB)
				}
			}
		}
		for _, c := range order {
			a := byComp[c]
			pc := ProxyCost{Mode: mode, Component: c, Runs: len(a.per1000), MemoryMiB: round3(a.mem), Published: publishedFor(c)}
			if len(a.per1000) == 0 {
				pc.Note = "no accepted run with a reading"
				if len(a.errs) > 0 {
					pc.Note += ": " + strings.Join(a.errs, "; ")
				}
			} else {
				pc.CoresPer1000RPS = round3(mean(a.per1000))
			}
			out = append(out, pc)
		}
	}
	return out
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
