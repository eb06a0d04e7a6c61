package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// reachTimeout bounds the one request that tells a live API server from a
// dead address; a healthy one answers /version in milliseconds.
const reachTimeout = 5 * time.Second

// UnreachableError says which cluster (or Docker engine) did not answer, what
// was tried and how to fix it. Commands test for it to exit with one message
// instead of a later, misleading one (permissions, missing CRDs).
type UnreachableError struct {
	What  string // "the cluster" or "Docker"
	Tried string // the kubeconfig file, context and server, or DOCKER_HOST
	Err   error
	Fix   string
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("%s is not reachable at %s: %v; %s", e.What, e.Tried, e.Err, e.Fix)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// ClusterReachable loads the REST config of kubeconfigPath (empty: KUBECONFIG
// or ~/.kube/config) and kubeContext (empty: the current context) and asks the
// API server for /version. A kubeconfig or context that does not exist, a
// server that does not answer and rejected credentials each get their own
// message naming the file, the context and the server.
func ClusterReachable(ctx context.Context, kubeconfigPath, kubeContext string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfigPath
	files := kubeconfigPath
	if files == "" {
		files = strings.Join(rules.GetLoadingPrecedence(), ":")
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext})
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s cannot be read: %w; pass --kubeconfig FILE", files, err)
	}
	name := kubeContext
	if name == "" {
		name = raw.CurrentContext
	}
	if _, ok := raw.Contexts[name]; !ok {
		known := make([]string, 0, len(raw.Contexts))
		for c := range raw.Contexts {
			known = append(known, c)
		}
		slices.Sort(known)
		if name == "" {
			return nil, fmt.Errorf("kubeconfig %s has no current context (contexts: %s); pass --context NAME", files, listOrNone(known))
		}
		return nil, fmt.Errorf("context %q is not in kubeconfig %s (contexts: %s); pass --context with one of them or --kubeconfig FILE", name, files, listOrNone(known))
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s, context %q: %w", files, name, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	tried := fmt.Sprintf("API server %s (context %q in kubeconfig %s)", cfg.Host, name, files)
	if err := askVersion(ctx, cfg); err != nil {
		if apierrors.IsUnauthorized(err) {
			return nil, fmt.Errorf("%s refused the credentials: %w; log in again or refresh the kubeconfig's token", tried, err)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &UnreachableError{What: "the cluster", Tried: tried, Err: err,
			Fix: fmt.Sprintf("start the cluster or reconnect to it (VPN, tunnel), check the server address, or choose another with --kubeconfig/--context; `kubectl --context %s cluster-info` shows the same", name)}
	}
	return cfg, nil
}

func askVersion(ctx context.Context, cfg *rest.Config) error {
	ctx, cancel := context.WithTimeout(ctx, reachTimeout)
	defer cancel()
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	err = dc.RESTClient().Get().AbsPath("/version").Do(ctx).Error()
	if apierrors.IsForbidden(err) {
		return nil // it answered; what it forbids is the caller's business
	}
	return err
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// IsUnreachable reports whether err says a cluster or Docker did not answer.
func IsUnreachable(err error) bool {
	var u *UnreachableError
	return errors.As(err, &u)
}
