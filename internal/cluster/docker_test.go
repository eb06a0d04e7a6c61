package cluster

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

func TestDockerReachableAnswersOnPing(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_ping" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("OK"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	t.Setenv("DOCKER_HOST", "unix://"+socket)
	if err := DockerReachable(context.Background()); err != nil {
		t.Fatalf("fake engine on %s: %v", socket, err)
	}
}

func TestDockerReachableNamesTheFix(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "absent.sock"))
	err := DockerReachable(context.Background())
	if err == nil {
		t.Fatal("no engine behind the socket, yet Docker was reported reachable")
	}
	for _, want := range []string{"Docker is not reachable", "DOCKER_HOST"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
