package addons

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// A Check is one thing that must hold before a step is done. Ready returns
// whether it holds and, when not, what was seen (for the timeout message).
type Check struct {
	Name  string
	Ready func(ctx context.Context) (ok bool, seen string, err error)
}

// Wait polls checks until all hold, logging which are pending with the
// elapsed time every progressEvery, and fails after timeout naming each check
// that never held with what it last saw. A check's error counts as "not yet"
// (the API may be starting) and its text is reported.
func Wait(ctx context.Context, log *slog.Logger, what string, timeout time.Duration, checks ...Check) error {
	return wait(ctx, log, what, timeout, 2*time.Second, 10*time.Second, checks)
}

func wait(ctx context.Context, log *slog.Logger, what string, timeout, poll, progressEvery time.Duration, checks []Check) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pending := map[string]string{}
	lastProgress := start
	for {
		clear(pending)
		var order []string
		for _, c := range checks {
			ok, seen, err := c.Ready(ctx)
			if err != nil {
				seen = err.Error()
			}
			if !ok || err != nil {
				pending[c.Name] = seen
				order = append(order, c.Name)
			}
		}
		if len(pending) == 0 {
			log.Info("ready", "what", what, "elapsed", time.Since(start).Round(time.Millisecond))
			return nil
		}
		if time.Since(lastProgress) >= progressEvery {
			lastProgress = time.Now()
			log.Info("waiting", "what", what, "elapsed", time.Since(start).Round(time.Second), "pending", strings.Join(order, ", "))
		}
		select {
		case <-ctx.Done():
			var b strings.Builder
			for _, name := range order {
				fmt.Fprintf(&b, "\n  - %s: %s", name, pending[name])
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s not ready after %s:%s", what, time.Since(start).Round(time.Second), b.String())
			}
			return fmt.Errorf("%s: stopped after %s while waiting for:%s: %w", what, time.Since(start).Round(time.Second), b.String(), ctx.Err())
		case <-time.After(poll):
		}
	}
}
