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
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
)

// PortForward forwards a free port on 127.0.0.1 to port of the pod until
// stop is called or ctx ends. localAddr is "127.0.0.1:<port>".
func (c *Client) PortForward(ctx context.Context, namespace, pod string, port int) (localAddr string, stop func(), err error) {
	what := fmt.Sprintf("port-forward to Pod %s/%s:%d", namespace, pod, port)
	transport, upgrader, err := spdy.RoundTripperFor(c.cfg)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", what, err)
	}
	url := c.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	stopCh, readyCh := make(chan struct{}), make(chan struct{})
	var errOut bytes.Buffer
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, stopCh, readyCh, io.Discard, &errOut)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", what, err)
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	var once sync.Once
	stop = func() { once.Do(func() { close(stopCh) }) }
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-stopCh:
		}
	}()
	timer := time.NewTimer(c.Timeouts.PortForward)
	defer timer.Stop()
	select {
	case <-readyCh:
	case err := <-done:
		stop()
		return "", nil, fmt.Errorf("%s: %w %s", what, err, bytes.TrimSpace(errOut.Bytes()))
	case <-timer.C:
		stop()
		return "", nil, fmt.Errorf("%s: not ready within %s (Timeouts.PortForward): %s", what, c.Timeouts.PortForward, errOut.String())
	case <-ctx.Done():
		stop()
		return "", nil, fmt.Errorf("%s: %w", what, ctx.Err())
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		stop()
		return "", nil, fmt.Errorf("%s: no local port: %v", what, err)
	}
	return "127.0.0.1:" + strconv.Itoa(int(ports[0].Local)), stop, nil
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
