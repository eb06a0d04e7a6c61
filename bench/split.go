package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// A LoaderPart is one of the loaders an attack is spread over, named for
// errors: a loadgen pod, an in-process attacker.
type LoaderPart struct {
	Name   string
	Loader Loader
}

// SplitLoader spreads each attack over its parts (--loaders): the rate and
// the connections are divided so the parts sum exactly to the attack's,
// every part runs the same warm-up and duration, all start together, and
// their results reach emit one at a time, timestamps untouched, so the raw
// file holds the merged samples and every percentile is computed from them,
// never averaged over parts. Each part's results carry its own attack name
// (<name>-l<i>, vegeta's Result.Attack). One part alone is the attack
// unchanged.
type SplitLoader struct {
	Parts []LoaderPart
}

// LocalLoaders is n in-process attackers (`--local --loaders n`).
func LocalLoaders(n int) SplitLoader {
	var l SplitLoader
	for i := range n {
		l.Parts = append(l.Parts, LoaderPart{Name: fmt.Sprintf("in-process attacker %d", i), Loader: LocalLoader{}})
	}
	return l
}

// Attack implements Loader. When a part fails the others are stopped and
// the error names the failing part.
func (l SplitLoader) Attack(ctx context.Context, spec AttackSpec, emit func(*vegeta.Result) error) error {
	switch len(l.Parts) {
	case 0:
		return fmt.Errorf("attack %q: no loader to run it", spec.Name)
	case 1:
		return l.Parts[0].Loader.Attack(ctx, spec, emit)
	}
	specs, err := SplitSpec(spec, len(l.Parts))
	if err != nil {
		return err
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var emitErr error
	merged := func(r *vegeta.Result) error {
		mu.Lock()
		defer mu.Unlock()
		if emitErr == nil {
			if emitErr = emit(r); emitErr != nil {
				cancel()
			}
		}
		return emitErr
	}
	errs := make([]error, len(l.Parts))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, p := range l.Parts {
		wg.Go(func() {
			<-start
			if err := p.Loader.Attack(ctx, specs[i], merged); err != nil {
				errs[i] = fmt.Errorf("loader %s (part %d of %d, attack %q): %w", p.Name, i+1, len(l.Parts), specs[i].Name, err)
				cancel()
			}
		})
	}
	close(start)
	wg.Wait()
	return splitError(parent, emitErr, errs)
}

// splitError is the attack's outcome: the caller's own cancellation or
// emit failure first, else every part that failed by itself (the parts
// stopped because of it return context.Canceled and are left out).
func splitError(parent context.Context, emitErr error, errs []error) error {
	if err := parent.Err(); err != nil {
		return err
	}
	if emitErr != nil {
		return emitErr
	}
	var failed []error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			failed = append(failed, err)
		}
	}
	if len(failed) == 0 {
		return errors.Join(errs...) // only cancellations: keep them rather than report success
	}
	return errors.Join(failed...)
}

// SplitSpec divides spec into n parts whose rates and connections sum
// exactly to spec's (the remainder goes one each to the first parts); it
// refuses when a part would get no request per second or no connection.
func SplitSpec(spec AttackSpec, n int) ([]AttackSpec, error) {
	if n < 1 {
		return nil, fmt.Errorf("attack %q: spread over %d loaders, want ≥ 1", spec.Name, n)
	}
	var errs []error
	if spec.Rate < n {
		errs = append(errs, fmt.Errorf("rate %d rps cannot be spread over %d loaders (each needs at least 1 rps): raise --rate or lower --loaders", spec.Rate, n))
	}
	if spec.Connections < n {
		errs = append(errs, fmt.Errorf("%d connections cannot be spread over %d loaders (each needs at least one): raise --connections or lower --loaders", spec.Connections, n))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("attack %q: %w", spec.Name, err)
	}
	rates, conns := shares(spec.Rate, n), shares(spec.Connections, n)
	parts := make([]AttackSpec, n)
	for i := range parts {
		parts[i] = spec
		parts[i].Name = fmt.Sprintf("%s-l%d", spec.Name, i)
		parts[i].Rate, parts[i].Connections = rates[i], conns[i]
	}
	return parts, nil
}

// shares divides total into n integers that differ by at most one and sum
// to total.
func shares(total, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = total / n
		if i < total%n {
			out[i]++
		}
	}
	return out
}

// loaderWidth is how many loaders l spreads an attack over.
func loaderWidth(l Loader) int {
	if s, ok := l.(SplitLoader); ok {
		return len(s.Parts)
	}
	return 1
}

// validateLoaders checks --loaders against the counts it divides.
func (o Options) validateLoaders() []error {
	if o.Loaders < 1 {
		return []error{fmt.Errorf("--loaders is %d, want ≥ 1", o.Loaders)}
	}
	var errs []error
	if o.Rate > 0 && o.Rate < o.Loaders {
		errs = append(errs, fmt.Errorf("--rate %d is below --loaders %d: each loader needs at least 1 rps", o.Rate, o.Loaders))
	}
	for _, c := range o.Connections {
		if c > 0 && c < o.Loaders {
			errs = append(errs, fmt.Errorf("--connections has %d, fewer than --loaders %d: each loader needs at least one connection; raise the count or lower --loaders", c, o.Loaders))
		}
	}
	return errs
}

// checkModeLoader wants a loader for m that spreads over as many loaders as
// the options (and so the summary) say.
func checkModeLoader(m Mode, fallback Loader, want int) error {
	l := m.Loader
	if l == nil {
		l = fallback
	}
	if l == nil {
		return fmt.Errorf("mode %s has no loader", m.Name)
	}
	if got := loaderWidth(l); got != want {
		return fmt.Errorf("mode %s attacks from %d loader(s), but the options say --loaders %d", m.Name, got, want)
	}
	return nil
}

// recordedLoaders is Config.Loaders for n loaders: one is left out, so a
// single-loader summary.json reads as before (ReadSummary refuses unknown
// fields, so an older meshgate would refuse one naming loaders).
func recordedLoaders(n int) int {
	if n > 1 {
		return n
	}
	return 0
}
