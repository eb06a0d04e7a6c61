package cluster

import (
	"crypto/tls"
	"net/http"
	"time"
)

// Where Kong lives. The release name makes the kong/ingress chart (its
// "gateway" subchart) name everything "<release>-gateway-*".
const (
	KongNamespace      = "kong"
	KongRelease        = "kong"
	KongGatewayName    = KongRelease + "-gateway"     // Deployment of the Kong gateway pods
	KongControllerName = KongRelease + "-controller"  // Deployment of the ingress controller
	KongProxyService   = KongGatewayName + "-proxy"   // NodePort on kind, ports 80 and 443
	KongAdminService   = KongGatewayName + "-admin"   // headless, TLS on KongAdminPort
	KongServiceAccount = KongGatewayName              // the gateway pods' identity
	KongAdminPort      = 8444                         // admin API (TLS) container port
	KongProxyPort      = 8000                         // proxy HTTP container port
	KongProxyTLSPort   = 8443                         // proxy TLS container port
	KongGatewayClass   = "kong"                       // unmanaged GatewayClass for konghq.com/kic-gateway-controller
	KongGatewayLabel   = "app.kubernetes.io/instance" // with value KongRelease, selects both Deployments' pods
)

// NodePorts of Kong's proxy Service on kind; kind maps them to host ports.
const (
	KongProxyNodePort    = 30080
	KongProxyTLSNodePort = 30443
)

// The load generator's node on kind.
const (
	LoadgenNodeLabel = "meshgate.io/pool" // value LoadgenPool
	LoadgenPool      = "loadgen"
	LoadgenTaintKey  = "meshgate.io/loadgen" // NoSchedule; the load generator tolerates it
)

// KongSPIFFEID is the identity Istio gives Kong's gateway pods.
func KongSPIFFEID(trustDomain string) string {
	if trustDomain == "" {
		trustDomain = "cluster.local"
	}
	return "spiffe://" + trustDomain + "/ns/" + KongNamespace + "/sa/" + KongServiceAccount
}

// KongAdminHTTPClient talks to KongAdminURL. The chart serves the admin API
// with a self-signed certificate generated at start, reached only over a
// loopback port-forward, so there is nothing to verify it against.
func KongAdminHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
		},
	}
}
