package probe

import (
	"os"
	"strings"
	"testing"
)

const kongPrincipal = "spiffe://cluster.local/ns/kong/sa/kong-gateway"

// ztunnelScrape is the upstream-shaped scrape with the destination-side
// connection counts of Kong (mTLS) and of a plaintext client filled in.
func ztunnelScrape(t *testing.T, kong, plain string) *SidecarMetrics {
	t.Helper()
	raw, err := os.ReadFile("testdata/ztunnel_15020.prom")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("} KONG", "} "+kong, "} PLAIN", "} "+plain).Replace(string(raw))
	m, err := ParseSidecarMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatalf("ztunnel's OpenMetrics text: %v", err)
	}
	return m
}

func TestZtunnelConnectionsReadsUpstreamLabels(t *testing.T) {
	m := ztunnelScrape(t, "3", "1")
	got := m.ZtunnelConnections(ConnectionFilter{Reporter: "destination", DestinationWorkload: "echo", DestinationNamespace: "shop"})
	if len(got) != 2 {
		t.Fatalf("want the two destination series, got %+v", got)
	}
	var kong ZtunnelConnections
	for _, c := range got {
		if c.SourcePrincipal == kongPrincipal {
			kong = c
		}
	}
	want := ZtunnelConnections{Reporter: "destination", SourcePrincipal: kongPrincipal, SourceWorkload: "kong-gateway",
		DestinationWorkload: "echo", DestinationNamespace: "shop", DestinationService: "echo.shop.svc.cluster.local",
		SecurityPolicy: MutualTLS, ResponseFlags: "-", Count: 3}
	if kong != want {
		t.Errorf("Kong's series = %+v\nwant %+v", kong, want)
	}
	if other := m.ZtunnelConnections(ConnectionFilter{DestinationWorkload: "other"}); len(other) != 0 {
		t.Errorf("filter on another workload matched %+v", other)
	}
}

func TestAmbientMTLSProof(t *testing.T) {
	f := ConnectionFilter{Reporter: "destination", DestinationWorkload: "echo", DestinationNamespace: "shop"}
	tests := []struct {
		name                  string
		kongAfter, plainAfter string
		want                  string // "" means proven
	}{
		{"Kong's connections are mTLS", "8", "1", ""},
		{"a plaintext connection during the probe", "8", "2", "not mTLS from " + kongPrincipal},
		{"nothing reached the backend's ztunnel", "3", "1", "opened no connection"},
	}
	before := ztunnelScrape(t, "3", "1")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			delta := ZtunnelConnectionDelta(before, ztunnelScrape(t, tt.kongAfter, tt.plainAfter), f)
			err := AmbientMTLSProof(delta, kongPrincipal)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("proof refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err %v, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestAmbientMTLSProofWantsTheRightPeer(t *testing.T) {
	delta := ZtunnelConnectionDelta(ztunnelScrape(t, "3", "1"), ztunnelScrape(t, "5", "1"), ConnectionFilter{Reporter: "destination"})
	if err := AmbientMTLSProof(delta, "spiffe://cluster.local/ns/other/sa/default"); err == nil {
		t.Error("mTLS from Kong accepted as proof for another principal")
	}
	if len(delta) != 1 || delta[0].Count != 2 {
		t.Errorf("delta = %+v, want Kong's series grown by 2", delta)
	}
}
