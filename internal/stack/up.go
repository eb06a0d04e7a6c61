package stack

import (
	"context"
	"errors"

	"github.com/meshgate/meshgate/internal/cluster"
)

func up(ctx context.Context, opts Options) (*cluster.Env, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return nil, errors.New("stack.Up: being wired (cluster branch)")
}

func down(ctx context.Context, env *cluster.Env, opts DownOptions) error {
	if env == nil {
		return nil
	}
	if opts.Keep {
		return nil
	}
	return env.Teardown(ctx)
}
