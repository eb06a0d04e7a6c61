package pki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newTestBundle(t *testing.T) *Bundle {
	t.Helper()
	b, err := NewBundle(filepath.Join(t.TempDir(), "pki"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBundleVerification(t *testing.T) {
	b := newTestBundle(t)
	client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	server := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	tests := []struct {
		name    string
		cert    *Cert
		roots   *Authority
		host    string
		usage   []x509.ExtKeyUsage
		wantErr string // "" means verifies
	}{
		{"client from CA", b.Client, b.CA, "", client, ""},
		{"gateway client from CA", b.GatewayClient, b.CA, "", client, ""},
		{"foreign client against CA", b.ForeignClient, b.CA, "", client, "unknown authority"},
		{"foreign client against its own CA", b.ForeignClient, b.ForeignCA, "", client, ""},
		{"expired client", b.ExpiredClient, b.CA, "", client, "expired"},
		{"gateway by name", b.Gateway, b.CA, GatewayHost, server, ""},
		{"gateway by IP", b.Gateway, b.CA, "127.0.0.1", server, ""},
		{"wrong host for the gateway name", b.WrongHost, b.CA, GatewayHost, server, "certificate is valid for"},
		{"upstream via container alias", b.Upstream, b.CA, ContainerHostAlias, server, ""},
		{"foreign upstream", b.ForeignUpstream, b.CA, ContainerHostAlias, server, "unknown authority"},
		{"sni internal", b.SNIInternal, b.CA, SNIInternal, server, ""},
		{"sni partner is not internal", b.SNIPartner, b.CA, SNIInternal, server, "certificate is valid for"},
		{"client cert is not a server cert", b.Client, b.CA, "", server, "incompatible key usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.cert.X509.Verify(x509.VerifyOptions{Roots: tt.roots.Pool(), DNSName: tt.host, KeyUsages: tt.usage})
			if tt.host != "" && err == nil {
				err = tt.cert.X509.VerifyHostname(tt.host)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("%s: want verified, got %v", tt.cert, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("%s: want error containing %q, got %v", tt.cert, tt.wantErr, err)
			}
		})
	}
}

func TestBundleSubjects(t *testing.T) {
	b := newTestBundle(t)
	for _, c := range []*Cert{b.Client, b.ForeignClient, b.ExpiredClient} {
		if got, want := c.Subject(), "CN=user-service,O=YourOrg"; got != want {
			t.Errorf("%s subject = %q, want %q", c.Name, got, want)
		}
	}
	if b.CA.X509.Subject.String() != b.ForeignCA.X509.Subject.String() {
		t.Errorf("foreign CA subject %q differs from CA %q; they should collide on purpose", b.ForeignCA.X509.Subject, b.CA.X509.Subject)
	}
}

func TestBundleFiles(t *testing.T) {
	b := newTestBundle(t)
	st, err := os.Stat(b.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("dir %s mode %v, want 0700", b.Dir, st.Mode().Perm())
	}
	for _, c := range b.all() {
		ks, err := os.Stat(c.KeyFile)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if ks.Mode().Perm() != 0o600 {
			t.Errorf("%s key mode %v, want 0600", c.KeyFile, ks.Mode().Perm())
		}
		pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			t.Fatalf("%s: written pair does not load: %v", c.Name, err)
		}
		if !bytes.Equal(pair.Certificate[0], c.X509.Raw) {
			t.Errorf("%s: file certificate differs from memory", c.Name)
		}
	}
	entries, err := os.ReadDir(b.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(entries), 2*len(b.all()); got != want {
		t.Errorf("%s holds %d files, want %d (no temp files left)", b.Dir, got, want)
	}
}

func TestKeysStayOutOfDescriptions(t *testing.T) {
	b := newTestBundle(t)
	js, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("pki", "client", b.Client, "ca", b.CA)
	outputs := map[string]string{
		"json":   string(js),
		"slog":   logged.String(),
		"string": b.Client.String() + fmt.Sprint(b.Gateway),
	}
	for name, out := range outputs {
		if strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, string(b.Client.KeyPEM()[30:60])) {
			t.Errorf("%s description leaks a private key: %s", name, out)
		}
		if !strings.Contains(out, "user-service") {
			t.Errorf("%s description lacks the client subject: %s", name, out)
		}
	}
}

func TestIssueRejectsBadSpec(t *testing.T) {
	now := time.Now()
	ca, err := NewCA("ca", "x", nil, now)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"no name", Spec{CommonName: "a", NotBefore: now, NotAfter: now.Add(time.Hour)}, "has no Name"},
		{"inverted validity", Spec{Name: "a", NotBefore: now, NotAfter: now.Add(-time.Hour)}, "must be after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ca.Issue(tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
		})
	}
}
