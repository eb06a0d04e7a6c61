package cluster

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// DockerReachable reports whether a Docker engine answers /_ping at DOCKER_HOST
// (default unix:///var/run/docker.sock). Its error says what to do; suites use
// it as their skip reason.
func DockerReachable(ctx context.Context) error {
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	client, base, err := dockerClient(host)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_ping", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return &UnreachableError{What: "Docker", Tried: host, Err: err,
			Fix: "start the Docker engine (for example `sudo systemctl start docker`) or point DOCKER_HOST at a running one"}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("Docker at %s answered /_ping with %s %q; check the engine's logs", host, resp.Status, body)
	}
	return nil
}

func dockerClient(host string) (*http.Client, string, error) {
	u, err := url.Parse(host)
	if err != nil {
		return nil, "", fmt.Errorf("DOCKER_HOST=%q is not a URL: %w", host, err)
	}
	switch u.Scheme {
	case "unix":
		socket := u.Path
		dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}
		return &http.Client{Transport: &http.Transport{DialContext: dial}}, "http://docker", nil
	case "tcp", "http":
		return http.DefaultClient, "http://" + strings.TrimSuffix(u.Host, "/"), nil
	default:
		return nil, "", fmt.Errorf("DOCKER_HOST=%q: meshgate supports unix:// and tcp:// hosts", host)
	}
}
