package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// AttackSpec is one attack: what the orchestrator sends to a Loader (and, as
// JSON, to the in-cluster load generator).
type AttackSpec struct {
	Name        string      `json:"name"` // vegeta's attack name, e.g. kong-c16-r2
	Method      string      `json:"method"`
	URL         string      `json:"url"`
	Header      http.Header `json:"header,omitempty"`
	Rate        int         `json:"rate"`
	Duration    Duration    `json:"duration"`
	Warmup      Duration    `json:"warmup"`
	Connections int         `json:"connections"`
	Timeout     Duration    `json:"timeout"`
}

// Validate names every bad field at once.
func (s AttackSpec) Validate() error {
	var errs []error
	if s.URL == "" {
		errs = append(errs, errors.New("url is empty"))
	}
	if s.Rate <= 0 {
		errs = append(errs, fmt.Errorf("rate is %d, want > 0 (an open-model attack needs a constant rate)", s.Rate))
	}
	if s.Duration <= 0 {
		errs = append(errs, fmt.Errorf("duration is %s, want > 0", time.Duration(s.Duration)))
	}
	if s.Warmup < 0 {
		errs = append(errs, fmt.Errorf("warmup is %s, want ≥ 0", time.Duration(s.Warmup)))
	}
	if s.Connections <= 0 {
		errs = append(errs, fmt.Errorf("connections is %d, want > 0", s.Connections))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("attack %q: %w", s.Name, err)
	}
	return nil
}

// A Loader runs one attack and hands every measured (post-warm-up) result to
// emit as it arrives. LocalLoader runs vegeta in this process; RemoteLoader
// asks the in-cluster load generator, which runs the same Attack function.
type Loader interface {
	Attack(ctx context.Context, spec AttackSpec, emit func(*vegeta.Result) error) error
}

// LocalLoader attacks from this process.
type LocalLoader struct{}

// Attack implements Loader.
func (LocalLoader) Attack(ctx context.Context, spec AttackSpec, emit func(*vegeta.Result) error) error {
	return Attack(ctx, spec, emit)
}

// Attack runs spec with vegeta's library: a constant rate (open model: no
// MaxWorkers, so slow responses never hold back the schedule and coordinated
// omission stays out), exactly spec.Connections keep-alive HTTP/1.1
// connections, and one continuous attack of warm-up plus duration whose
// warm-up results are dropped, so measurement starts on warm connections.
// Result bodies and headers are dropped before emit (BytesIn keeps the size):
// a raw file of a million results stays tens of megabytes. Cancelling ctx
// stops the attack; its error is then ctx's.
func Attack(ctx context.Context, spec AttackSpec, emit func(*vegeta.Result) error) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	method := spec.Method
	if method == "" {
		method = http.MethodGet
	}
	timeout := time.Duration(spec.Timeout)
	if timeout <= 0 {
		timeout = vegeta.DefaultTimeout
	}
	atk := vegeta.NewAttacker(
		vegeta.Connections(spec.Connections),
		vegeta.MaxConnections(spec.Connections),
		vegeta.Workers(uint64(spec.Connections)),
		vegeta.HTTP2(false),
		vegeta.KeepAlive(true),
		vegeta.Timeout(timeout),
		vegeta.Redirects(vegeta.NoFollow),
	)
	targeter := vegeta.NewStaticTargeter(vegeta.Target{Method: method, URL: spec.URL, Header: spec.Header})
	pacer := vegeta.ConstantPacer{Freq: spec.Rate, Per: time.Second}

	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	cut := time.Now().Add(time.Duration(spec.Warmup))
	var emitErr error
	for r := range atk.Attack(targeter, pacer, time.Duration(spec.Warmup+spec.Duration), spec.Name) {
		if emitErr != nil || r.Timestamp.Before(cut) {
			continue // drain so vegeta's workers can finish
		}
		r.Body, r.Headers = nil, nil
		if err := emit(r); err != nil {
			emitErr = err
			atk.Stop()
		}
	}
	if emitErr != nil {
		return fmt.Errorf("attack %q: %w", spec.Name, emitErr)
	}
	return ctx.Err()
}
