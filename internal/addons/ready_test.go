package addons

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestWaitReturnsOnceEveryCheckHolds(t *testing.T) {
	calls := 0
	flaky := Check{Name: "control plane", Ready: func(context.Context) (bool, string, error) {
		calls++
		switch calls {
		case 1:
			return false, "", errors.New("connection refused")
		case 2:
			return false, "0/1 available", nil
		}
		return true, "", nil
	}}
	always := Check{Name: "crd", Ready: func(context.Context) (bool, string, error) { return true, "", nil }}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if err := wait(context.Background(), log, "Kuma", time.Minute, time.Millisecond, 0, []Check{flaky, always}); err != nil {
		t.Fatal(err)
	}
	if calls != 3 {
		t.Errorf("polled %d times, want 3", calls)
	}
	if !strings.Contains(logs.String(), "pending=\"control plane\"") || !strings.Contains(logs.String(), "elapsed=") {
		t.Errorf("progress lines lack the pending check or elapsed time:\n%s", logs.String())
	}
}

func TestWaitTimeoutNamesWhatWasNotReady(t *testing.T) {
	ready := Check{Name: "CRD gateways established", Ready: func(context.Context) (bool, string, error) { return true, "", nil }}
	webhook := Check{Name: "injection webhook adds kuma-sidecar", Ready: func(context.Context) (bool, string, error) {
		return false, "dry-run pod came back with containers [probe]", nil
	}}
	mesh := Check{Name: "Kuma Mesh default present", Ready: func(context.Context) (bool, string, error) {
		return false, "", errors.New("the server could not find the requested resource")
	}}
	err := wait(context.Background(), nil, "Kuma", 20*time.Millisecond, time.Millisecond, time.Hour, []Check{ready, webhook, mesh})
	if err == nil {
		t.Fatal("never-ready checks passed")
	}
	msg := err.Error()
	for _, want := range []string{"Kuma not ready after", "injection webhook adds kuma-sidecar: dry-run pod came back with containers [probe]", "Kuma Mesh default present: the server could not find"} {
		if !strings.Contains(msg, want) {
			t.Errorf("timeout message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "CRD gateways") {
		t.Errorf("timeout message names a check that held:\n%s", msg)
	}
}

func TestWaitStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	never := Check{Name: "kong", Ready: func(context.Context) (bool, string, error) { return false, "0/1", nil }}
	err := wait(ctx, nil, "Kong", time.Minute, time.Millisecond, time.Hour, []Check{never})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "kong: 0/1") {
		t.Errorf("cancelled wait: %v", err)
	}
}
