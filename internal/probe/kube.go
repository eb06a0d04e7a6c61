package probe

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/meshgate/meshgate/internal/kube"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
)

// PodPort reads an HTTP endpoint on a pod's port through a port-forward
// opened per call: the kubelet dials the port on the pod's loopback, so it
// reaches admin APIs bound to 127.0.0.1 (Envoy's 9901) that nothing else can.
type PodPort struct {
	REST      *rest.Config
	Namespace string
	Pod       string
	Port      int
	Scheme    string       // "http" (default) or "https"
	HTTP      *http.Client // default: 10s timeout
}

// Get implements AdminGetter.
func (p *PodPort) Get(ctx context.Context, path string) ([]byte, error) {
	local, stop, err := kube.ForwardPort(ctx, p.REST, p.Namespace, p.Pod, p.Port, 30*time.Second)
	if err != nil {
		return nil, err
	}
	defer stop()
	scheme := p.Scheme
	if scheme == "" {
		scheme = "http"
	}
	hc := p.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://127.0.0.1:%d%s", scheme, local, path), nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s on %s/%s:%d: %w", path, p.Namespace, p.Pod, p.Port, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s on %s/%s:%d: %w", path, p.Namespace, p.Pod, p.Port, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s on %s/%s:%d: %s: %s", path, p.Namespace, p.Pod, p.Port, resp.Status, clip(string(body)))
	}
	return body, nil
}

// ExecGet sends one plaintext GET from inside a pod by running Command with
// the URL appended (for meshgate's echo image: ["/app", "--get"]), so the
// request leaves from that pod's network namespace.
type ExecGet struct {
	REST      *rest.Config
	Namespace string
	Pod       string
	Container string
	Command   []string
}

// Get runs the command and classifies what it printed.
func (e *ExecGet) Get(ctx context.Context, url string, timeout time.Duration) RequestResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	res := RequestResult{}
	stdout, stderr, err := e.exec(ctx, append(append([]string(nil), e.Command...), url))
	res.LatencyMS = ms(time.Since(start))
	switch {
	case err == nil:
		res.Status, res.Outcome = http.StatusOK, OutcomeOK
		if echo, derr := DecodeEchoJSON(stdout); derr == nil {
			res.Pod = echo.Pod
		}
	case ctx.Err() != nil:
		res.Outcome, res.Error = OutcomeTimeout, fmt.Sprintf("no answer within %s: %s", timeout, strings.TrimSpace(string(stderr)))
	default:
		msg := strings.TrimSpace(string(stderr))
		if msg == "" {
			msg = err.Error()
		}
		res.Outcome, res.Error = ClassifyErrorText(msg), msg
	}
	return res
}

func (e *ExecGet) exec(ctx context.Context, cmd []string) ([]byte, []byte, error) {
	cs, err := kubernetes.NewForConfig(e.REST)
	if err != nil {
		return nil, nil, err
	}
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(e.Namespace).Name(e.Pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: e.Container, Command: cmd, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(e.REST, http.MethodPost, req.URL())
	if err != nil {
		return nil, nil, err
	}
	var out, errb bytes.Buffer
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &errb})
	return out.Bytes(), errb.Bytes(), err
}

// httpStatusText finds "403 Forbidden" in "echo: --get http://x: 403 Forbidden".
var httpStatusText = regexp.MustCompile(`: ([1-5][0-9]{2}) [A-Z][a-zA-Z]`)

// ClassifyErrorText maps a client's error message (as printed by a program
// in a pod) to an Outcome.
func ClassifyErrorText(msg string) Outcome {
	m := strings.ToLower(msg)
	if sm := httpStatusText.FindStringSubmatch(msg); sm != nil {
		code, _ := strconv.Atoi(sm[1])
		return ClassifyStatus(code)
	}
	switch {
	case strings.Contains(m, "connection reset"), strings.Contains(m, "eof"), strings.Contains(m, "server closed"):
		return OutcomeReset
	case strings.Contains(m, "connection refused"):
		return OutcomeRefused
	case strings.Contains(m, "timeout"), strings.Contains(m, "deadline exceeded"):
		return OutcomeTimeout
	default:
		return OutcomeError
	}
}

// HTTPAdmin reads an admin API at a base URL (Kong's, through the
// port-forward the stack holds).
type HTTPAdmin struct {
	Base string
	HTTP *http.Client
}

// Get implements AdminGetter.
func (h HTTPAdmin) Get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(h.Base, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := h.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s%s: %w", h.Base, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s%s: %s: %s", h.Base, path, resp.Status, clip(string(body)))
	}
	return body, nil
}

// KumaInspect reads a sidecar's Envoy admin data through the Kuma control
// plane's inspect API (GET /meshes/{mesh}/dataplanes/{pod}.{ns}/stats on
// port 5681), reached through the API server's service proxy. In Kuma 2.14
// the sidecar's Envoy admin is a Unix socket, so this is the way in that
// needs neither a shell in the sidecar image nor a changed install.
type KumaInspect struct {
	REST      *rest.Config
	Namespace string // the control plane's namespace, "kuma-system"
	Service   string // "kuma-control-plane"
	Mesh      string // "default"
}

// Admin returns a getter for the sidecar of namespace/pod. The getter maps
// Envoy admin paths ("/stats", "/config_dump", "/clusters") to the inspect
// API's ("stats", "xds", "clusters").
func (k KumaInspect) Admin(_ context.Context, namespace, pod string) (AdminGetter, error) {
	cs, err := kubernetes.NewForConfig(k.REST)
	if err != nil {
		return nil, err
	}
	dp := pod + "." + namespace
	return adminFunc(func(ctx context.Context, path string) ([]byte, error) {
		kind, ok := map[string]string{"/stats": "stats", "/config_dump": "xds", "/clusters": "clusters"}[path]
		if !ok {
			return nil, fmt.Errorf("kuma inspect: no mapping for Envoy admin path %s", path)
		}
		body, err := cs.CoreV1().Services(k.Namespace).ProxyGet("http", k.Service, "5681", "/meshes/"+k.Mesh+"/dataplanes/"+dp+"/"+kind, nil).DoRaw(ctx)
		if err != nil {
			return nil, fmt.Errorf("kuma inspect %s of dataplane %s (mesh %s) via %s/%s:5681: %w", kind, dp, k.Mesh, k.Namespace, k.Service, err)
		}
		return body, nil
	}), nil
}

type adminFunc func(ctx context.Context, path string) ([]byte, error)

func (f adminFunc) Get(ctx context.Context, path string) ([]byte, error) { return f(ctx, path) }
