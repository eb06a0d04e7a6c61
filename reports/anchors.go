package reports

// PublishedAnchors are Istio's published overhead figures (percentile with
// the mesh minus the same percentile without), each with its conditions: an
// overhead measured under other conditions is not comparable one to one.
// No published Kuma or Kong Mesh overhead figures were found.
func PublishedAnchors() []Anchor {
	const method = "overhead = percentile(mode) − percentile(baseline) at equal rps and connections (istio/tools perf/benchmark)"
	return []Anchor{
		{
			Source:     "Istio 1.20 docs, Performance and Scalability",
			URL:        "https://istio.io/v1.20/docs/ops/deployment/performance-and-scalability/",
			Setup:      "both sidecars, mTLS",
			Conditions: "1000 rps, 1 KB payload, HTTP/1.1, 2 proxy worker threads, fortio; " + method,
			P90Ms:      0.228,
			P99Ms:      0.298,
		},
		{
			Source:     "Istio 1.22 docs, Performance and Scalability",
			URL:        "https://istio.io/v1.22/docs/ops/deployment/performance-and-scalability/",
			Setup:      "ambient, two ztunnels",
			Conditions: "ambient data plane, a ztunnel on the client and on the server node; " + method,
			P90Ms:      0.17,
			P99Ms:      0.20,
		},
		{
			Source:     "Istio 1.10 docs, Performance and Scalability",
			URL:        "https://istio.io/v1.10/docs/ops/deployment/performance-and-scalability/",
			Setup:      "both sidecars",
			Conditions: "16 client connections; " + method,
			P90Ms:      2.65,
			P99Ms:      2.91,
		},
	}
}

// UnsourcedClaims are figures quoted in the seed guides for which no public
// source was found; the report shows them so nobody mistakes them for data.
func UnsourcedClaims() []Claim {
	const status = "unsourced: no public measurement found; not comparable to anything measured here"
	const where = "seed guide on gateway–mesh integration (\"Extract mesh root CA for gateway trust bundle\")"
	return []Claim{
		{Claim: "12–18 ms added latency per request for a separate gateway and mesh (\"benchmarks from production environments\")", Where: where, Status: status},
		{Claim: "14.2 ms vs 3.1 ms average latency overhead, separate vs integrated gateway and mesh", Where: where, Status: status},
		{Claim: "68% of enterprises see policy drift between ingress and sidecars (attributed to a CNCF 2024 survey)", Where: where, Status: status},
	}
}
