package kube

// PortForward, Exec and Logs need a kubelet: envtest has none, so they are
// compile-checked here and exercised by the kind suites.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
)

// PortForward forwards a free port on 127.0.0.1 to port of the pod until
// stop is called or ctx ends. localAddr is "127.0.0.1:<port>".
func (c *Client) PortForward(ctx context.Context, namespace, pod string, port int) (localAddr string, stop func(), err error) {
	local, stop, err := ForwardPort(ctx, c.cfg, namespace, pod, port, c.Timeouts.PortForward)
	if err != nil {
		return "", nil, err
	}
	go func() {
		<-ctx.Done()
		stop()
	}()
	return "127.0.0.1:" + strconv.Itoa(local), stop, nil
}

// ForwardPort forwards a free port on 127.0.0.1 to port of the pod and returns
// that local port. ctx and readyWithin bound only the wait for the forward to
// be ready: it then lasts until stop is called, so a forward opened during a
// bounded setup step can serve the rest of the run.
func ForwardPort(ctx context.Context, cfg *rest.Config, namespace, pod string, port int, readyWithin time.Duration) (local int, stop func(), err error) {
	what := fmt.Sprintf("port-forward to Pod %s/%s:%d", namespace, pod, port)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", what, err)
	}
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", what, err)
	}
	url := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	stopCh, readyCh := make(chan struct{}), make(chan struct{})
	var errOut bytes.Buffer
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, stopCh, readyCh, io.Discard, &errOut)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", what, err)
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	var once sync.Once
	stop = func() { once.Do(func() { close(stopCh) }) }
	timer := time.NewTimer(readyWithin)
	defer timer.Stop()
	select {
	case <-readyCh:
	case err := <-done:
		stop()
		return 0, nil, fmt.Errorf("%s: %w %s", what, err, bytes.TrimSpace(errOut.Bytes()))
	case <-timer.C:
		stop()
		return 0, nil, fmt.Errorf("%s: not ready within %s: %s", what, readyWithin, errOut.String())
	case <-ctx.Done():
		stop()
		return 0, nil, fmt.Errorf("%s: %w", what, ctx.Err())
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		stop()
		return 0, nil, fmt.Errorf("%s: no local port: %v", what, err)
	}
	return int(ports[0].Local), stop, nil
}

// Exec runs cmd in a container of the pod and returns its output. A non-zero
// exit is an error that still comes with the output.
func (c *Client) Exec(ctx context.Context, namespace, pod, container string, cmd []string) (stdout, stderr []byte, err error) {
	req := c.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: cmd, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	exec, err := remotecommand.NewSPDYExecutor(c.cfg, http.MethodPost, req.URL())
	if err != nil {
		return nil, nil, fmt.Errorf("exec %q in %s/%s[%s]: %w", cmd, namespace, pod, container, err)
	}
	var out, errb bytes.Buffer
	if err := exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &errb}); err != nil {
		err = fmt.Errorf("exec %q in %s/%s[%s]: %w", cmd, namespace, pod, container, err)
		if e := bytes.TrimSpace(errb.Bytes()); len(e) > 0 {
			err = fmt.Errorf("%w (stderr: %s)", err, e)
		}
		return out.Bytes(), errb.Bytes(), err
	}
	return out.Bytes(), errb.Bytes(), nil
}

// Logs returns the current log of a container.
func (c *Client) Logs(ctx context.Context, namespace, pod, container string) ([]byte, error) {
	b, err := c.cs.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{Container: container}).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("logs of %s/%s[%s]: %w", namespace, pod, container, err)
	}
	return b, nil
}
