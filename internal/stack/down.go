package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/internal/addons"
	"github.com/meshgate/meshgate/internal/cluster"
)

func down(ctx context.Context, env *cluster.Env, opts DownOptions) error {
	if env == nil {
		return nil
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if opts.Keep {
		env.Logger().Info("keeping the cluster", "cluster", env.Name, "delete with", "meshgate down --run "+env.RunDir)
		return env.Close(ctx)
	}
	if err := env.Teardown(ctx); err != nil {
		return err
	}
	if env.RunDir != "" {
		_ = os.Remove(filepath.Join(env.RunDir, StateFile))
	}
	return nil
}

// DownKind deletes a kind cluster by name (`meshgate down --name`).
func DownKind(ctx context.Context, name string, log *slog.Logger) error {
	if err := cluster.DockerReachable(ctx); err != nil {
		return fmt.Errorf("kind cluster %s lives in Docker: %w", name, err)
	}
	k := cluster.NewKind(log)
	ok, err := k.Exists(name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no kind cluster named %q", name)
	}
	return k.Delete(name, "")
}

// DownRun deletes what the run recorded in dir/StateFile created: its kind
// cluster, or on an existing cluster the Helm releases and namespaces it
// created (nothing else).
func DownRun(ctx context.Context, dir string, log *slog.Logger) error {
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return fmt.Errorf("run folder %s: %w (is it the --out folder of a `meshgate up --keep`?)", dir, err)
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, StateFile), err)
	}
	switch s.Provider {
	case cluster.ProviderKind:
		if !s.ClusterCreated {
			return fmt.Errorf("run %s reused kind cluster %q and did not create it; delete it with meshgate down --name %s", s.RunID, s.Name, s.Name)
		}
		if err := cluster.DockerReachable(ctx); err != nil {
			return fmt.Errorf("kind cluster %s lives in Docker: %w", s.Name, err)
		}
		if err := cluster.NewKind(log).Delete(s.Name, s.KubeconfigPath); err != nil {
			return err
		}
	case cluster.ProviderExisting:
		env := &cluster.Env{RunID: s.RunID, RunDir: dir, Provider: s.Provider, Name: s.Name, KubeconfigPath: s.KubeconfigPath, KubeContext: s.KubeContext, Log: log}
		rc, err := cluster.ClusterReachable(ctx, s.KubeconfigPath, s.KubeContext)
		if err != nil {
			return fmt.Errorf("run %s installed on an existing cluster: %w", s.RunID, err)
		}
		env.REST = rc
		if err := undo(ctx, env, s.Created); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s: unknown provider %q", filepath.Join(dir, StateFile), s.Provider)
	}
	return os.Remove(filepath.Join(dir, StateFile))
}

// undo removes recorded objects, newest first.
func undo(ctx context.Context, env *cluster.Env, created []cluster.Created) error {
	h := addons.NewHelm(env)
	c, err := addons.Client(env)
	if err != nil {
		return err
	}
	var errs []error
	for i := len(created) - 1; i >= 0; i-- {
		o := created[i]
		env.Logger().Info("delete", "kind", o.Kind, "namespace", o.Namespace, "name", o.Name)
		switch o.Kind {
		case "HelmRelease":
			errs = append(errs, h.Uninstall(ctx, o.Namespace, o.Name))
		case "CustomResourceDefinition":
			errs = append(errs, addons.DeleteCRDs(ctx, env.Logger(), c, o.Name))
		case "Namespace":
			errs = append(errs, client.IgnoreNotFound(c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.Name}})))
		default:
			errs = append(errs, fmt.Errorf("recorded object of unknown kind %q", o.Kind))
		}
	}
	return errors.Join(errs...)
}
