package probe

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// KongUpstream is one entry of the Kong Admin API's GET /upstreams.
type KongUpstream struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// KongTarget is one entry of GET /upstreams/{id}/targets: an address Kong
// load-balances to ("10.244.1.7:8080" or "svc.ns.svc:8080").
type KongTarget struct {
	ID       string  `json:"id"`
	Target   string  `json:"target"`
	Weight   int     `json:"weight"`
	Upstream KongRef `json:"upstream"`
}

// KongRef is a foreign key as the admin API writes it: {"id": "..."}.
type KongRef struct {
	ID string `json:"id"`
}

type kongPage[T any] struct {
	Data *[]T    `json:"data"`
	Next *string `json:"next"`
}

// ParseKongUpstreams decodes a GET /upstreams page; next is the following
// page's path, empty on the last page.
func ParseKongUpstreams(body []byte) (ups []KongUpstream, next string, err error) {
	return parseKongPage[KongUpstream](body, "/upstreams")
}

// ParseKongTargets decodes a GET /upstreams/{id}/targets page.
func ParseKongTargets(body []byte) (targets []KongTarget, next string, err error) {
	return parseKongPage[KongTarget](body, "/upstreams/{id}/targets")
}

func parseKongPage[T any](body []byte, endpoint string) ([]T, string, error) {
	var p kongPage[T]
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, "", fmt.Errorf("kong admin %s: %w (body starts %q)", endpoint, err, clip(string(body)))
	}
	if p.Data == nil {
		return nil, "", fmt.Errorf("kong admin %s: no \"data\" array in the answer (body starts %q)", endpoint, clip(string(body)))
	}
	next := ""
	if p.Next != nil && *p.Next != "" {
		// Kong writes next as a path ("/upstreams?offset=...") or, in older
		// versions, as a full URL on the admin listener: keep path and query.
		u, err := url.Parse(*p.Next)
		if err != nil || u.Path == "" {
			return nil, "", fmt.Errorf("kong admin %s: next page %q is not a path or URL", endpoint, *p.Next)
		}
		next = u.RequestURI()
	}
	return *p.Data, next, nil
}

// TargetKind says where Kong sends traffic, the precondition of the Pod-IP
// 502: Kuma's sidecar upgrades to mTLS only traffic addressed to a Service
// (ClusterIP or mesh VIP), and passes Pod-IP traffic through.
type TargetKind string

const (
	TargetPodIP     TargetKind = "pod-ip"     // an address of a backend Pod
	TargetClusterIP TargetKind = "cluster-ip" // a Service's ClusterIP
	TargetMeshVIP   TargetKind = "mesh-vip"   // Kuma's DNS VIP range 240.0.0.0/4
	TargetHostname  TargetKind = "hostname"   // a DNS name Kong resolves per request
	TargetUnknownIP TargetKind = "unknown-ip" // an IP that is none of the above
)

// ClassifiedTarget is a Kong target with its kind.
type ClassifiedTarget struct {
	Target string     `json:"target"`
	Host   string     `json:"host"`
	Port   string     `json:"port"`
	Kind   TargetKind `json:"kind"`
}

// Addresses the cluster really has, for classifying Kong's targets.
type Addresses struct {
	PodIPs     []string `json:"podIPs"`
	ClusterIPs []string `json:"clusterIPs"`
}

var kumaVIPs = netip.MustParsePrefix("240.0.0.0/4")

// ClassifyTarget names what a Kong target points at, given the cluster's
// Pod IPs and ClusterIPs. An unparsable target is an error.
func ClassifyTarget(target string, addrs Addresses) (ClassifiedTarget, error) {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return ClassifiedTarget{}, fmt.Errorf("kong target %q: want host:port: %w", target, err)
	}
	if host == "" {
		return ClassifiedTarget{}, fmt.Errorf("kong target %q: empty host", target)
	}
	ct := ClassifiedTarget{Target: target, Host: host, Port: port}
	ip, err := netip.ParseAddr(host)
	switch {
	case err != nil:
		ct.Kind = TargetHostname
	case contains(addrs.PodIPs, ip):
		ct.Kind = TargetPodIP
	case contains(addrs.ClusterIPs, ip):
		ct.Kind = TargetClusterIP
	case kumaVIPs.Contains(ip.Unmap()):
		ct.Kind = TargetMeshVIP
	default:
		ct.Kind = TargetUnknownIP
	}
	return ct, nil
}

func contains(list []string, ip netip.Addr) bool {
	for _, s := range list {
		if a, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil && a.Unmap() == ip.Unmap() {
			return true
		}
	}
	return false
}
