// Package pki issues the certificates the edge suites need (a CA, gateway and
// upstream server certificates, client certificates, and the deliberately bad
// ones: foreign CA, expired, wrong host) with crypto/x509, per run, into a
// folder only the current user can read. Private keys stay in that folder:
// nothing in this package logs or marshals them.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// Spec describes one certificate to issue.
type Spec struct {
	Name         string // file base name: <Name>.pem, <Name>-key.pem
	CommonName   string
	Organization []string
	DNSNames     []string
	IPAddresses  []net.IP
	URIs         []*url.URL
	Server       bool // ExtKeyUsage serverAuth
	Client       bool // ExtKeyUsage clientAuth
	NotBefore    time.Time
	NotAfter     time.Time
}

// Cert is an issued certificate and its key. CertFile and KeyFile are set
// once the certificate is written to disk.
type Cert struct {
	Name     string
	X509     *x509.Certificate
	CertPEM  []byte
	CertFile string
	KeyFile  string
	key      crypto.Signer
	keyPEM   []byte
}

// TLSCertificate returns the certificate and key for a tls.Config.
func (c *Cert) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.X509.Raw}, PrivateKey: c.key, Leaf: c.X509}
}

// KeyPEM returns the PEM-encoded private key, for configuration files that
// must embed it (Kong's declarative config). Never put it in a report.
func (c *Cert) KeyPEM() []byte { return c.keyPEM }

// Subject is the certificate's subject in RFC 2253 form.
func (c *Cert) Subject() string { return c.X509.Subject.String() }

type certView struct {
	Name     string    `json:"name"`
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	DNSNames []string  `json:"dnsNames,omitempty"`
	NotAfter time.Time `json:"notAfter"`
	CertFile string    `json:"certFile,omitempty"`
}

func (c *Cert) view() certView {
	return certView{c.Name, c.X509.Subject.String(), c.X509.Issuer.String(), c.X509.DNSNames, c.X509.NotAfter.UTC(), c.CertFile}
}

// MarshalJSON describes the certificate without its key.
func (c *Cert) MarshalJSON() ([]byte, error) { return json.Marshal(c.view()) }

// LogValue describes the certificate without its key.
func (c *Cert) LogValue() slog.Value {
	v := c.view()
	return slog.GroupValue(slog.String("name", v.Name), slog.String("subject", v.Subject),
		slog.String("issuer", v.Issuer), slog.Time("notAfter", v.NotAfter))
}

// String describes the certificate without its key.
func (c *Cert) String() string {
	return fmt.Sprintf("%s (subject %q, issuer %q, not after %s)", c.Name, c.X509.Subject, c.X509.Issuer, c.X509.NotAfter.UTC().Format(time.RFC3339))
}

// Authority is a CA that issues certificates.
type Authority struct {
	*Cert
}

// NewCA creates a self-signed CA valid from now-1h for ten years.
func NewCA(name, commonName string, org []string, now time.Time) (*Authority, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	tmpl, err := template(Spec{
		Name: name, CommonName: commonName, Organization: org,
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
	})
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.MaxPathLenZero = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	c, err := sign(name, tmpl, tmpl, key, key)
	if err != nil {
		return nil, err
	}
	return &Authority{c}, nil
}

// Issue signs a leaf certificate for spec.
func (a *Authority) Issue(spec Spec) (*Cert, error) {
	if spec.Name == "" {
		return nil, fmt.Errorf("pki: Spec for %q has no Name; the name becomes the file name", spec.CommonName)
	}
	if !spec.NotAfter.After(spec.NotBefore) {
		return nil, fmt.Errorf("pki: %s: NotAfter %s must be after NotBefore %s", spec.Name, spec.NotAfter, spec.NotBefore)
	}
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	tmpl, err := template(spec)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if spec.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if spec.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	return sign(spec.Name, tmpl, a.X509, key, a.key)
}

// Pool returns a cert pool holding only this CA.
func (a *Authority) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.X509)
	return p
}

func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generate key: %w", err)
	}
	return k, nil
}

func template(s Spec) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: serial: %w", err)
	}
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: s.CommonName, Organization: s.Organization},
		DNSNames:     s.DNSNames,
		IPAddresses:  s.IPAddresses,
		URIs:         s.URIs,
		NotBefore:    s.NotBefore,
		NotAfter:     s.NotAfter,
	}, nil
}

func sign(name string, tmpl, parent *x509.Certificate, key *ecdsa.PrivateKey, parentKey crypto.Signer) (*Cert, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, fmt.Errorf("pki: sign %s: %w", name, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse %s: %w", name, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: marshal key of %s: %w", name, err)
	}
	return &Cert{
		Name:    name,
		X509:    leaf,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:     key,
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// Write stores the certificate (0644) and key (0600) in dir.
func (c *Cert) Write(dir string) error {
	certFile := filepath.Join(dir, c.Name+".pem")
	keyFile := filepath.Join(dir, c.Name+"-key.pem")
	if err := writeFile(certFile, c.CertPEM, 0o644); err != nil {
		return err
	}
	if err := writeFile(keyFile, c.keyPEM, 0o600); err != nil {
		return err
	}
	c.CertFile, c.KeyFile = certFile, keyFile
	return nil
}

// writeFile writes atomically: a half-written PEM would be read by a gateway
// as a confusing parse error.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("pki: chmod %s: %w", tmp.Name(), err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("pki: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("pki: close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("pki: rename into %s: %w", path, err)
	}
	return nil
}
