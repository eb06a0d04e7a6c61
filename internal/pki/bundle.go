package pki

import (
	"fmt"
	"net"
	"os"
	"time"
)

// Names used by the edge suites, as in the seed guide "How to Configure API
// Gateway mTLS for Service-to-Service Authentication".
const (
	CAName          = "Internal CA"
	Org             = "YourOrg"
	GatewayHost     = "api-gateway.internal"
	ClientCN        = "user-service"
	GatewayClientCN = "kong-gateway"
	UpstreamHost    = "backend-service"
	// ContainerHostAlias is how a container reaches a port on the test host
	// (testcontainers-go HostAccessPorts).
	ContainerHostAlias = "host.testcontainers.internal"
	WrongHost          = "wrong-host.internal"
	// SNI hosts served with their own certificates (Kong "certificate per route").
	SNIInternal = "api.internal.lan"
	SNIPartner  = "api.partner.lan"
)

// Bundle is one run's PKI for the edge suites.
type Bundle struct {
	Dir string `json:"dir"`
	// CA signs everything the gateways trust; ForeignCA has the same subject
	// but another key, so trust by issuer name alone would be caught.
	CA        *Authority `json:"ca"`
	ForeignCA *Authority `json:"foreignCA"`

	Gateway   *Cert `json:"gateway"`   // server cert of the gateway (api-gateway.internal, localhost, 127.0.0.1)
	WrongHost *Cert `json:"wrongHost"` // server cert from CA for wrong-host.internal only

	Client        *Cert `json:"client"`        // CN=user-service,O=YourOrg from CA
	ForeignClient *Cert `json:"foreignClient"` // same subject, from ForeignCA
	ExpiredClient *Cert `json:"expiredClient"` // same subject, from CA, expired a day ago

	Upstream        *Cert `json:"upstream"`        // echo backend server cert from CA
	ForeignUpstream *Cert `json:"foreignUpstream"` // echo backend server cert from ForeignCA
	GatewayClient   *Cert `json:"gatewayClient"`   // the gateway's client cert towards the upstream

	SNIInternal *Cert `json:"sniInternal"` // api.internal.lan
	SNIPartner  *Cert `json:"sniPartner"`  // api.partner.lan
}

// NewBundle issues the edge PKI and writes it into dir, created (or tightened)
// to mode 0700.
func NewBundle(dir string, now time.Time) (*Bundle, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki: create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki: chmod 0700 %s: %w", dir, err)
	}
	b := &Bundle{Dir: dir}
	var err error
	if b.CA, err = NewCA("ca", CAName, []string{Org}, now); err != nil {
		return nil, err
	}
	if b.ForeignCA, err = NewCA("foreign-ca", CAName, []string{Org}, now); err != nil {
		return nil, err
	}
	valid := func(s Spec) Spec {
		s.NotBefore, s.NotAfter = now.Add(-time.Hour), now.AddDate(1, 0, 0)
		return s
	}
	loopback := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	upstreamNames := []string{UpstreamHost, ContainerHostAlias, "localhost"}
	issues := []struct {
		dst  **Cert
		ca   *Authority
		spec Spec
	}{
		{&b.Gateway, b.CA, valid(Spec{Name: "gateway", CommonName: GatewayHost, DNSNames: []string{GatewayHost, "localhost"}, IPAddresses: loopback, Server: true})},
		{&b.WrongHost, b.CA, valid(Spec{Name: "wrong-host", CommonName: WrongHost, DNSNames: []string{WrongHost}, Server: true})},
		{&b.Client, b.CA, valid(Spec{Name: "client", CommonName: ClientCN, Organization: []string{Org}, Client: true})},
		{&b.ForeignClient, b.ForeignCA, valid(Spec{Name: "foreign-client", CommonName: ClientCN, Organization: []string{Org}, Client: true})},
		{&b.ExpiredClient, b.CA, Spec{Name: "expired-client", CommonName: ClientCN, Organization: []string{Org}, Client: true,
			NotBefore: now.Add(-72 * time.Hour), NotAfter: now.Add(-24 * time.Hour)}},
		{&b.Upstream, b.CA, valid(Spec{Name: "upstream", CommonName: UpstreamHost, DNSNames: upstreamNames, IPAddresses: loopback, Server: true})},
		{&b.ForeignUpstream, b.ForeignCA, valid(Spec{Name: "foreign-upstream", CommonName: UpstreamHost, DNSNames: upstreamNames, IPAddresses: loopback, Server: true})},
		{&b.GatewayClient, b.CA, valid(Spec{Name: "gateway-client", CommonName: GatewayClientCN, Organization: []string{Org}, Client: true})},
		{&b.SNIInternal, b.CA, valid(Spec{Name: "sni-internal", CommonName: SNIInternal, DNSNames: []string{SNIInternal}, Server: true})},
		{&b.SNIPartner, b.CA, valid(Spec{Name: "sni-partner", CommonName: SNIPartner, DNSNames: []string{SNIPartner}, Server: true})},
	}
	for _, is := range issues {
		if *is.dst, err = is.ca.Issue(is.spec); err != nil {
			return nil, err
		}
	}
	for _, c := range b.all() {
		if err := c.Write(dir); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (b *Bundle) all() []*Cert {
	return []*Cert{b.CA.Cert, b.ForeignCA.Cert, b.Gateway, b.WrongHost, b.Client, b.ForeignClient,
		b.ExpiredClient, b.Upstream, b.ForeignUpstream, b.GatewayClient, b.SNIInternal, b.SNIPartner}
}
