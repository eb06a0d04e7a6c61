package probe

import (
	"reflect"
	"strings"
	"testing"
)

// Real XFCC values, each from a named public source.
const (
	// Envoy docs, configuration/http/http_conn_man/headers.rst, example 1.
	xfccEnvoy1 = `By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com`
	// Same page, example 2: two elements.
	xfccEnvoy2 = `By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;URI=http://testclient.lyft.com,By=http://backend.lyft.com;Hash=9ba61d6425303443c0748a02dd8de688468ed33be74eee6556d90c0149c1309e;URI=http://frontend.lyft.com`
	// Same page, example 3: URI and two DNS SANs.
	xfccEnvoy3 = `By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com;DNS=lyft.com;DNS=www.lyft.com`
	// istio.io docs, security/authorization/authz-custom (httpbin sample output).
	xfccIstio = `By=spiffe://cluster.local/ns/foo/sa/httpbin;Hash=e5178ee79066bfbafb1d98044fcd0cf80db76be8714c7a4b630c7922df520bf2;Subject="";URI=spiffe://cluster.local/ns/foo/sa/sleep`
	// A Kuma 2.x Kubernetes sidecar's XFCC as echoed by an echoserver in a
	// public write-up (kuma-demo namespace): repeated By= and URI= SANs.
	xfccKuma = `By=spiffe://default/echoserver_kuma-demo_svc_80;By=kuma://app/echoserver;By=kuma://k8s.kuma.io/namespace/kuma-demo;By=kuma://k8s.kuma.io/service-name/echoserver;By=kuma://k8s.kuma.io/service-port/80;By=kuma://kuma.io/protocol/http;By=kuma://kuma.io/service/echoserver_kuma-demo_svc_80;By=kuma://pod-template-hash/6944fb9c86;Hash=93075e5780a1df3a88b86473db39eae24c5a70967300fcb522a56abfdd4c75f5;URI=spiffe://default/mycurlpod_kuma-demo_svc;URI=kuma://k8s.kuma.io/namespace/kuma-demo;URI=kuma://kuma.io/instance/mycurlpod;URI=kuma://kuma.io/protocol/tcp;URI=kuma://kuma.io/service/mycurlpod_kuma-demo_svc;URI=kuma://run/mycurlpod`
	// Envoy docs before 1.5 (SAN= instead of URI=), Chinese translation of headers.rst.
	xfccLegacySAN = `By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;SAN=http://testclient.lyft.com`
)

func TestParseXFCCRealSamples(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   []XFCCElement
		spiffe []string
	}{
		{"envoy single", xfccEnvoy1, []XFCCElement{{
			By: []string{"http://frontend.lyft.com"}, Hash: "468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688",
			Subject: "/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client", URI: []string{"http://testclient.lyft.com"},
		}}, nil},
		{"envoy two elements", xfccEnvoy2, []XFCCElement{
			{By: []string{"http://frontend.lyft.com"}, Hash: "468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688", URI: []string{"http://testclient.lyft.com"}},
			{By: []string{"http://backend.lyft.com"}, Hash: "9ba61d6425303443c0748a02dd8de688468ed33be74eee6556d90c0149c1309e", URI: []string{"http://frontend.lyft.com"}},
		}, nil},
		{"envoy dns", xfccEnvoy3, []XFCCElement{{
			By: []string{"http://frontend.lyft.com"}, Hash: "468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688",
			Subject: "/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client", URI: []string{"http://testclient.lyft.com"},
			DNS: []string{"lyft.com", "www.lyft.com"},
		}}, nil},
		{"istio", xfccIstio, []XFCCElement{{
			By: []string{"spiffe://cluster.local/ns/foo/sa/httpbin"}, Hash: "e5178ee79066bfbafb1d98044fcd0cf80db76be8714c7a4b630c7922df520bf2",
			URI: []string{"spiffe://cluster.local/ns/foo/sa/sleep"},
		}}, []string{"spiffe://cluster.local/ns/foo/sa/sleep"}},
		{"legacy SAN", xfccLegacySAN, []XFCCElement{{
			By: []string{"http://frontend.lyft.com"}, Hash: "468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688", URI: []string{"http://testclient.lyft.com"},
		}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseXFCC(tc.header)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			if ids := SPIFFEIDs(got); !reflect.DeepEqual(ids, tc.spiffe) {
				t.Errorf("SPIFFE IDs %v, want %v", ids, tc.spiffe)
			}
		})
	}
}

func TestParseXFCCKuma(t *testing.T) {
	got, err := ParseXFCC(xfccKuma)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].By) != 8 || len(got[0].URI) != 6 {
		t.Fatalf("got %d elements, By %d, URI %d; want 1, 8, 6", len(got), len(got[0].By), len(got[0].URI))
	}
	if ids := SPIFFEIDs(got); !reflect.DeepEqual(ids, []string{"spiffe://default/mycurlpod_kuma-demo_svc"}) {
		t.Errorf("caller SPIFFE IDs %v: the kuma:// tags must not count", ids)
	}
	if got[0].By[0] != "spiffe://default/echoserver_kuma-demo_svc_80" {
		t.Errorf("By[0] = %q", got[0].By[0])
	}
}

func TestParseXFCCQuoting(t *testing.T) {
	tests := []struct {
		header  string
		subject string
		uris    int
	}{
		{`Subject="CN=a,O=b;c=d";URI=spiffe://x/y`, "CN=a,O=b;c=d", 1},
		{`Subject="say \"hi\"";URI=spiffe://x/y`, `say "hi"`, 1},
		{`Subject="";URI=spiffe://x/y,URI=spiffe://x/z`, "", 1},
		{`subject="a";uri=spiffe://x/y`, "a", 1},
	}
	for _, tc := range tests {
		got, err := ParseXFCC(tc.header)
		if err != nil {
			t.Errorf("%s: %v", tc.header, err)
			continue
		}
		if got[0].Subject != tc.subject || len(got[0].URI) != tc.uris {
			t.Errorf("%s: subject %q uris %v", tc.header, got[0].Subject, got[0].URI)
		}
	}
}

func TestParseXFCCRejects(t *testing.T) {
	tests := []struct{ header, want string }{
		{``, "empty"},
		{`By=a,,URI=b`, "empty"},
		{`By`, "no '='"},
		{`Subject="unterminated;URI=x`, "unterminated"},
		{`Subject="a"b;URI=x`, "after the closing quote"},
		{`Sbj=x`, "unknown key"},
		{`URI=a"b`, "stray double quote"},
	}
	for _, tc := range tests {
		_, err := ParseXFCC(tc.header)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseXFCC(%q) err = %v, want one containing %q", tc.header, err, tc.want)
		}
	}
}

func FuzzParseXFCC(f *testing.F) {
	for _, s := range []string{xfccEnvoy1, xfccEnvoy2, xfccEnvoy3, xfccIstio, xfccKuma, xfccLegacySAN, `Subject="a\"b"`, `"`, `\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		els, err := ParseXFCC(s)
		if err != nil {
			return
		}
		for _, id := range SPIFFEIDs(els) {
			if !strings.HasPrefix(id, "spiffe://") {
				t.Fatalf("SPIFFEIDs returned %q", id)
			}
		}
	})
}
