package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/meshgate/meshgate/fixtures/apps/echo/echoserver"
)

// Outcome classifies one request: the status class the suites reason about.
type Outcome string

const (
	OutcomeOK        Outcome = "ok"         // 2xx
	Outcome502       Outcome = "502"        // Kong's answer when the upstream reset or refused
	Outcome503       Outcome = "503"        // no healthy upstream / Kong without route
	Outcome504       Outcome = "504"        // upstream timeout
	OutcomeHTTPOther Outcome = "http-other" // any other status
	OutcomeReset     Outcome = "reset"      // connection reset by peer / EOF before an answer
	OutcomeRefused   Outcome = "refused"    // connection refused
	OutcomeTimeout   Outcome = "timeout"    // no answer within the request timeout
	OutcomeError     Outcome = "error"      // anything else (DNS, TLS, bad URL)
)

// TrafficSpec describes N sequential requests.
type TrafficSpec struct {
	URL     string      // e.g. http://127.0.0.1:30080/
	Host    string      // Host header, when routing depends on it
	Header  http.Header // extra request headers
	N       int
	Timeout time.Duration // per request
	// Pause between requests: 0 sends back to back.
	Pause time.Duration
}

// RequestResult is what one request returned.
type RequestResult struct {
	Seq       int     `json:"seq"`
	Status    int     `json:"status,omitempty"`
	Outcome   Outcome `json:"outcome"`
	Error     string  `json:"error,omitempty"`
	Pod       string  `json:"pod,omitempty"`  // the echo backend pod that answered
	XFCC      string  `json:"xfcc,omitempty"` // X-Forwarded-Client-Cert the backend received
	Host      string  `json:"host,omitempty"` // the Host header the backend received
	LatencyMS float64 `json:"latencyMs"`
}

// TrafficReport is the transcript of one TrafficSpec run.
type TrafficReport struct {
	URL      string          `json:"url"`
	Host     string          `json:"host,omitempty"`
	Started  time.Time       `json:"started"`
	Ended    time.Time       `json:"ended"`
	Requests []RequestResult `json:"requests"`
	Outcomes map[Outcome]int `json:"outcomes"`
	Pods     map[string]int  `json:"pods,omitempty"`
}

// Fraction is the share of requests whose outcome is one of os.
func (r TrafficReport) Fraction(os ...Outcome) float64 {
	if len(r.Requests) == 0 {
		return 0
	}
	n := 0
	for _, o := range os {
		n += r.Outcomes[o]
	}
	return float64(n) / float64(len(r.Requests))
}

// Summary is one line for logs and report entries.
func (r TrafficReport) Summary() string {
	var parts []string
	for _, o := range []Outcome{OutcomeOK, Outcome502, Outcome503, Outcome504, OutcomeHTTPOther, OutcomeReset, OutcomeRefused, OutcomeTimeout, OutcomeError} {
		if n := r.Outcomes[o]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", o, n))
		}
	}
	return fmt.Sprintf("%d requests to %s: %s", len(r.Requests), r.URL, strings.Join(parts, " "))
}

// EchoReply is the part of the echo backend's JSON answer the probes read.
type EchoReply struct {
	Pod     string
	Host    string // the Host header as the backend received it
	Headers http.Header
}

// An EchoDecoder reads the echo backend's answer body.
type EchoDecoder func(body []byte) (EchoReply, error)

// Traffic sends spec.N sequential GET requests and classifies each. It
// returns an error only for a spec it cannot run; failed requests are data.
func Traffic(ctx context.Context, hc *http.Client, spec TrafficSpec, decode EchoDecoder) (TrafficReport, error) {
	if spec.N <= 0 || spec.URL == "" || spec.Timeout <= 0 {
		return TrafficReport{}, fmt.Errorf("traffic spec %+v: need URL, N > 0 and Timeout > 0", spec)
	}
	rep := TrafficReport{URL: spec.URL, Host: spec.Host, Started: time.Now(), Outcomes: map[Outcome]int{}, Pods: map[string]int{}}
	for i := 1; i <= spec.N; i++ {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("traffic to %s stopped after %d of %d requests: %w", spec.URL, i-1, spec.N, err)
		}
		res := one(ctx, hc, spec, i, decode)
		rep.Requests = append(rep.Requests, res)
		rep.Outcomes[res.Outcome]++
		if res.Pod != "" {
			rep.Pods[res.Pod]++
		}
		if spec.Pause > 0 && i < spec.N {
			select {
			case <-ctx.Done():
			case <-time.After(spec.Pause):
			}
		}
	}
	rep.Ended = time.Now()
	return rep, nil
}

func one(ctx context.Context, hc *http.Client, spec TrafficSpec, seq int, decode EchoDecoder) RequestResult {
	ctx, cancel := context.WithTimeout(ctx, spec.Timeout)
	defer cancel()
	res := RequestResult{Seq: seq}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, spec.URL, nil)
	if err != nil {
		res.Outcome, res.Error = OutcomeError, err.Error()
		return res
	}
	for k, vs := range spec.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if spec.Host != "" {
		req.Host = spec.Host
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		res.LatencyMS = ms(time.Since(start))
		res.Outcome, res.Error = ClassifyError(err), err.Error()
		return res
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	res.LatencyMS = ms(time.Since(start))
	res.Status = resp.StatusCode
	res.Outcome = ClassifyStatus(resp.StatusCode)
	if rerr != nil {
		res.Outcome, res.Error = ClassifyError(rerr), rerr.Error()
		return res
	}
	if res.Outcome == OutcomeOK && decode != nil {
		if echo, err := decode(body); err != nil {
			res.Error = "not an echo backend answer: " + err.Error()
		} else {
			res.Pod = echo.Pod
			res.XFCC = echo.Headers.Get("X-Forwarded-Client-Cert")
			res.Host = echo.Host
		}
	}
	return res
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// ClassifyStatus maps an HTTP status to an Outcome.
func ClassifyStatus(code int) Outcome {
	switch {
	case code >= 200 && code < 300:
		return OutcomeOK
	case code == http.StatusBadGateway:
		return Outcome502
	case code == http.StatusServiceUnavailable:
		return Outcome503
	case code == http.StatusGatewayTimeout:
		return Outcome504
	default:
		return OutcomeHTTPOther
	}
}

// ClassifyError maps a transport error to an Outcome.
func ClassifyError(err error) Outcome {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return OutcomeTimeout
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		strings.Contains(err.Error(), "connection reset by peer"),
		strings.Contains(err.Error(), "server closed"):
		return OutcomeReset
	case errors.Is(err, syscall.ECONNREFUSED), strings.Contains(err.Error(), "connection refused"):
		return OutcomeRefused
	default:
		return OutcomeError
	}
}

// DecodeEchoJSON reads the echo backend's answer (echoserver.Response): the
// pod name and the request headers it received.
func DecodeEchoJSON(body []byte) (EchoReply, error) {
	var r echoserver.Response
	if err := json.Unmarshal(body, &r); err != nil {
		return EchoReply{}, err
	}
	if r.Headers == nil && r.Method == "" {
		return EchoReply{}, fmt.Errorf("JSON without the echo fields method and headers (body starts %q)", clip(string(body)))
	}
	pod := r.PodName
	if r.PodNamespace != "" && pod != "" {
		pod = r.PodNamespace + "/" + pod
	}
	return EchoReply{Pod: pod, Host: r.Host, Headers: http.Header(r.Headers)}, nil
}
