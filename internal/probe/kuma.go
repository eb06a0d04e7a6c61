package probe

import (
	"net"
	"strconv"
	"strings"
)

// KumaInboundListener is the stat prefix of a Kuma sidecar's inbound
// listener for the backend's port. Kuma 2.14 binds that listener to
// <podIP>:<workload port> (the Service's targetPort) without a stat prefix,
// so Envoy names its stats listener.<podIP>_<port>.* [kumahq/kuma v2.14.3
// pkg/xds/generator/inbound_proxy_generator.go, test/framework/connection.go].
// The other listeners must not count: kuma-cp reads each sidecar's admin API
// through a TLS listener on <podIP>:9901, with a new connection and handshake
// per read [pkg/xds/generator/admin_proxy_generator.go, pkg/envoy/admin/client.go],
// and the outbound listeners see the backend's own calls. The global
// tls_inspector stats cannot be told apart by listener, so none is read.
func KumaInboundListener(podIP string, port int) string {
	// Envoy writes the address of an IPv6 listener as [a__b]_port.
	return "listener." + strings.ReplaceAll(net.JoinHostPort(podIP, strconv.Itoa(port)), ":", "_") + "."
}
