package cluster

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestTeardownRunsEveryCleanupLastFirst(t *testing.T) {
	var order []string
	env := &Env{}
	add := func(name string, fail, local bool) {
		fn := func(context.Context) error {
			order = append(order, name)
			if fail {
				return errors.New(name + " broke")
			}
			return nil
		}
		if local {
			env.DeferLocal(name, fn)
		} else {
			env.Defer(name, fn)
		}
	}
	add("cluster", false, false)
	add("release", true, false)
	add("forward", false, true)
	err := env.Teardown(context.Background())
	if want := []string{"forward", "release", "cluster"}; !reflect.DeepEqual(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	if err == nil || !strings.Contains(err.Error(), `cleanup "release": release broke`) {
		t.Errorf("error %v does not name the failed cleanup", err)
	}
	order = nil
	if err := env.Teardown(context.Background()); err != nil || len(order) != 0 {
		t.Errorf("second Teardown ran %v (err %v); cleanups must run once", order, err)
	}
}

func TestCloseKeepsWhatTheClusterHolds(t *testing.T) {
	var order []string
	env := &Env{}
	env.Defer("cluster", func(context.Context) error { order = append(order, "cluster"); return nil })
	env.DeferLocal("forward", func(context.Context) error { order = append(order, "forward"); return nil })
	if err := env.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(order, []string{"forward"}) {
		t.Fatalf("Close ran %v, want only the local forward", order)
	}
	if err := env.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(order, []string{"forward", "cluster"}) {
		t.Errorf("Teardown after Close ran %v", order)
	}
}

func TestRunStepsNamesTheFailedStep(t *testing.T) {
	ran := 0
	ok := Step{Name: "first", Run: func(context.Context, *Env) error { ran++; return nil }}
	bad := Step{Name: "kuma", Run: func(context.Context, *Env) error { ran++; return errors.New("webhook not injecting") }}
	never := Step{Name: "kong", Run: func(context.Context, *Env) error { ran++; return nil }}
	err := RunSteps(context.Background(), &Env{}, ok, bad, never)
	var se *StepError
	if !errors.As(err, &se) || se.Step != "kuma" {
		t.Fatalf("error %v, want a StepError for step kuma", err)
	}
	if ran != 2 {
		t.Errorf("%d steps ran, want 2 (stop at the failure)", ran)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := RunSteps(ctx, &Env{}, never); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: %v", err)
	}
}
