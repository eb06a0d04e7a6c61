package probe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/fixtures/apps/echo/echoserver"
)

func TestTrafficClassifiesOutcomes(t *testing.T) {
	echo := httptest.NewServer(echoserver.New(echoserver.Options{PodName: "check-in-api-1", PodNamespace: "kong-air-production"}))
	defer echo.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "An invalid response was received from the upstream server", http.StatusBadGateway)
	}))
	defer bad.Close()
	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.(*net.TCPConn).SetLinger(0) // RST, as a STRICT sidecar does to plaintext
		conn.Close()
	}))
	defer reset.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	defer slow.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()

	tests := []struct {
		name string
		url  string
		want Outcome
	}{
		{"echo", echo.URL, OutcomeOK},
		{"502", bad.URL, Outcome502},
		{"reset", reset.URL, OutcomeReset},
		{"timeout", slow.URL, OutcomeTimeout},
		{"refused", refused, OutcomeRefused},
	}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			xfcc := http.Header{"X-Forwarded-Client-Cert": {xfccIstio}}
			rep, err := Traffic(context.Background(), hc, TrafficSpec{URL: tc.url, Host: "order-service.api-system.svc.cluster.local:8080",
				N: 3, Timeout: 300 * time.Millisecond, Header: xfcc}, DecodeEchoJSON)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Outcomes[tc.want] != 3 || rep.Fraction(tc.want) != 1 {
				t.Fatalf("outcomes %v (%s), want 3 × %s; first: %+v", rep.Outcomes, rep.Summary(), tc.want, rep.Requests[0])
			}
			if tc.want == OutcomeOK {
				if rep.Pods["kong-air-production/check-in-api-1"] != 3 {
					t.Errorf("pods %v", rep.Pods)
				}
				if rep.Requests[0].XFCC != xfccIstio {
					t.Errorf("XFCC echoed %q", rep.Requests[0].XFCC)
				}
				if h := rep.Requests[0].Host; h != "order-service.api-system.svc.cluster.local:8080" {
					t.Errorf("the backend's Host recorded as %q, want the one sent", h)
				}
			}
		})
	}
}

func TestTrafficRejectsBadSpec(t *testing.T) {
	_, err := Traffic(context.Background(), http.DefaultClient, TrafficSpec{URL: "http://x"}, nil)
	if err == nil || !strings.Contains(err.Error(), "N > 0") {
		t.Errorf("err = %v", err)
	}
}

func TestDecodeEchoJSONRefusesOtherJSON(t *testing.T) {
	if _, err := DecodeEchoJSON([]byte(`{"message":"no Route matched with those values"}`)); err == nil {
		t.Error("Kong's own JSON error was taken for an echo answer")
	}
}

func TestClassifyErrorText(t *testing.T) {
	// Messages as Go's net/http client (the echo image's --get) prints them.
	tests := []struct {
		msg  string
		want Outcome
	}{
		{`echo: --get: Get "http://10.244.1.7:8080/": read tcp 10.244.2.3:51234->10.244.1.7:8080: read: connection reset by peer`, OutcomeReset},
		{`echo: --get: Get "http://10.96.14.3:8080/": EOF`, OutcomeReset},
		{`echo: --get: Get "http://10.244.1.7:8080/": dial tcp 10.244.1.7:8080: connect: connection refused`, OutcomeRefused},
		{`echo: --get: Get "http://10.244.1.7:8080/": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`, OutcomeTimeout},
		{`echo: --get http://10.244.1.7:8080/: 502 Bad Gateway`, Outcome502},
		{`echo: --get http://10.244.1.7:8080/: 403 Forbidden`, OutcomeHTTPOther},
		{`exec failed: unable to start container process: exec: "/echo": stat /echo: no such file or directory`, OutcomeError},
	}
	for _, tc := range tests {
		if got := ClassifyErrorText(tc.msg); got != tc.want {
			t.Errorf("ClassifyErrorText(%q) = %s, want %s", tc.msg, got, tc.want)
		}
	}
}
