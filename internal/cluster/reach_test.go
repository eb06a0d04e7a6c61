package cluster

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeKubeconfig(t *testing.T, server string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "` + server + `", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: one, context: {cluster: c, user: u}}, {name: two, context: {cluster: c, user: u}}]
current-context: one
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func apiServer(t *testing.T, status int) string {
	t.Helper()
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/version" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if status == http.StatusOK {
			_, _ = w.Write([]byte(`{"major":"1","minor":"37","gitVersion":"v1.37.0"}`))
			return
		}
		// What kube-apiserver answers: a metav1.Status.
		_, _ = fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":%q,"reason":%q,"code":%d}`,
			http.StatusText(status), strings.ReplaceAll(http.StatusText(status), " ", ""), status)
	}))
	t.Cleanup(s.Close)
	return s.URL
}

func TestClusterReachable(t *testing.T) {
	dead := "https://" + closedPort(t)
	tests := []struct {
		name, server, context string
		unreachable           bool
		want                  []string // empty: reachable
	}{
		{"answers", apiServer(t, http.StatusOK), "", false, nil},
		{"forbids /version but answers", apiServer(t, http.StatusForbidden), "two", false, nil},
		{"closed port", dead, "", true, []string{"the cluster is not reachable at API server " + dead, `context "one"`, "connection refused", "start the cluster"}},
		{"unknown context", dead, "three", false, []string{`context "three" is not in kubeconfig`, "contexts: one, two"}},
		{"rejected credentials", apiServer(t, http.StatusUnauthorized), "", false, []string{"refused the credentials", "log in again"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kc := writeKubeconfig(t, tt.server)
			_, err := ClusterReachable(context.Background(), kc, tt.context)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("reachable server refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if IsUnreachable(err) != tt.unreachable {
				t.Errorf("IsUnreachable = %v, want %v (%v)", !tt.unreachable, tt.unreachable, err)
			}
			for _, w := range append(tt.want, kc) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
