package kube

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Timeouts are the named limits of every wait; scenarios use these fields,
// never literal durations.
type Timeouts struct {
	Poll                time.Duration // between two looks at an object
	CRDEstablished      time.Duration
	DeploymentAvailable time.Duration // includes image pulls on a fresh node
	PodReady            time.Duration
	GatewayProgrammed   time.Duration
	Delete              time.Duration // one object, finalizers included
	PortForward         time.Duration // until the local listener is ready
}

// DefaultTimeouts suit a kind cluster on a laptop.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		Poll:                500 * time.Millisecond,
		CRDEstablished:      30 * time.Second,
		DeploymentAvailable: 5 * time.Minute,
		PodReady:            3 * time.Minute,
		GatewayProgrammed:   3 * time.Minute,
		Delete:              2 * time.Minute,
		PortForward:         30 * time.Second,
	}
}

// A Condition looks at the latest copy of an object: done, or why not yet.
// An error means it can never be done (a failed pod): the wait stops.
type Condition func(obj client.Object) (done bool, reason string, err error)

// WaitFor re-reads obj (by its name, namespace and type) until cond is done,
// logging each "not yet" with its reason at debug level. On timeout the
// error names what was waited for and the last reason seen. obj holds the
// last copy read.
func (c *Client) WaitFor(ctx context.Context, obj client.Object, what string, cond Condition, timeout time.Duration) error {
	key := client.ObjectKeyFromObject(obj)
	return c.poll(ctx, what, timeout, func(ctx context.Context) (bool, string, error) {
		err := c.c.Get(ctx, key, obj)
		switch {
		case apierrors.IsNotFound(err):
			return false, describe(obj) + " not found", nil
		case err != nil:
			return false, "get " + describe(obj) + ": " + err.Error(), nil
		}
		return cond(obj)
	})
}

// readGrace lets the last read of a wait finish after its deadline.
const readGrace = 10 * time.Second

// poll reads with a context that outlives the wait's deadline by readGrace,
// so that the last reason is what the object said, not a read cut short by
// the deadline (client-go's rate limiter refuses reads that would end past it).
func (c *Client) poll(ctx context.Context, what string, timeout time.Duration, check func(context.Context) (bool, string, error)) error {
	start := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	interval := c.Timeouts.Poll
	if interval <= 0 {
		interval = DefaultTimeouts().Poll
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	last := "not checked yet"
	for {
		// A slow read may overrun the deadline a little, never hang.
		readCtx, cancel := context.WithTimeout(ctx, max(timeout-time.Since(start), 0)+readGrace)
		done, reason, err := check(readCtx)
		cancel()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if done {
			c.log.Debug("done waiting", "for", what, "elapsed", time.Since(start).Round(time.Millisecond))
			return nil
		}
		if reason != "" && ctx.Err() == nil {
			last = reason
		}
		c.log.Debug("not yet", "for", what, "reason", last, "elapsed", time.Since(start).Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: stopped after %s: last seen: %s: %w",
				what, time.Since(start).Round(time.Millisecond), last, ctx.Err())
		case <-deadline.C:
			return fmt.Errorf("waiting for %s: gave up after %s (limit %s): last seen: %s: %w",
				what, time.Since(start).Round(time.Millisecond), timeout, last, context.DeadlineExceeded)
		case <-tick.C:
		}
	}
}

// WaitDeploymentAvailable waits with Timeouts.DeploymentAvailable.
func (c *Client) WaitDeploymentAvailable(ctx context.Context, namespace, name string) error {
	d := &appsv1.Deployment{}
	d.SetNamespace(namespace)
	d.SetName(name)
	return c.WaitFor(ctx, d, "Deployment "+namespace+"/"+name+" available", DeploymentAvailable(), c.Timeouts.DeploymentAvailable)
}

// WaitPodReady waits with Timeouts.PodReady.
func (c *Client) WaitPodReady(ctx context.Context, namespace, name string) error {
	p := &corev1.Pod{}
	p.SetNamespace(namespace)
	p.SetName(name)
	return c.WaitFor(ctx, p, "Pod "+namespace+"/"+name+" ready", PodReady(), c.Timeouts.PodReady)
}

// WaitGatewayProgrammed waits with Timeouts.GatewayProgrammed.
func (c *Client) WaitGatewayProgrammed(ctx context.Context, namespace, name string) error {
	g := &gatewayv1.Gateway{}
	g.SetNamespace(namespace)
	g.SetName(name)
	return c.WaitFor(ctx, g, "Gateway "+namespace+"/"+name+" accepted and programmed", GatewayProgrammed(), c.Timeouts.GatewayProgrammed)
}

// DeploymentAvailable: the controller has seen the latest generation, every
// replica is updated and available, and none of an older revision is left.
func DeploymentAvailable() Condition {
	return func(obj client.Object) (bool, string, error) {
		d, ok := obj.(*appsv1.Deployment)
		if !ok {
			return false, "", fmt.Errorf("DeploymentAvailable on %T", obj)
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		s := d.Status
		if s.ObservedGeneration < d.Generation {
			return false, fmt.Sprintf("observedGeneration %d < generation %d", s.ObservedGeneration, d.Generation), nil
		}
		for _, cond := range s.Conditions {
			if cond.Type == appsv1.DeploymentProgressing && cond.Reason == "ProgressDeadlineExceeded" {
				return false, "", fmt.Errorf("Deployment %s/%s: %s", d.Namespace, d.Name, cond.Message)
			}
		}
		if s.UpdatedReplicas < want || s.AvailableReplicas < want || s.Replicas > want {
			return false, fmt.Sprintf("replicas want %d: updated %d, available %d, total %d", want, s.UpdatedReplicas, s.AvailableReplicas, s.Replicas), nil
		}
		return true, "", nil
	}
}

// PodReady: the Ready condition is True. A pod that has ended can never be.
func PodReady() Condition {
	return func(obj client.Object) (bool, string, error) {
		p, ok := obj.(*corev1.Pod)
		if !ok {
			return false, "", fmt.Errorf("PodReady on %T", obj)
		}
		if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			return false, "", fmt.Errorf("Pod %s/%s ended in phase %s: %s", p.Namespace, p.Name, p.Status.Phase, p.Status.Message)
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady {
				if cond.Status == corev1.ConditionTrue {
					return true, "", nil
				}
				return false, fmt.Sprintf("Ready=%s %s: %s", cond.Status, cond.Reason, cond.Message), nil
			}
		}
		return false, "phase " + string(p.Status.Phase) + ", no Ready condition yet", nil
	}
}

// GatewayProgrammed: Accepted and Programmed are True at the latest
// generation.
func GatewayProgrammed() Condition {
	return func(obj client.Object) (bool, string, error) {
		g, ok := obj.(*gatewayv1.Gateway)
		if !ok {
			return false, "", fmt.Errorf("GatewayProgrammed on %T", obj)
		}
		for _, t := range []gatewayv1.GatewayConditionType{gatewayv1.GatewayConditionAccepted, gatewayv1.GatewayConditionProgrammed} {
			if ok, reason := conditionTrue(g.Status.Conditions, string(t), g.Generation); !ok {
				return false, reason, nil
			}
		}
		return true, "", nil
	}
}

// RouteAccepted: every parentRef has a status entry with Accepted and
// ResolvedRefs True at the latest generation.
func RouteAccepted() Condition {
	return func(obj client.Object) (bool, string, error) {
		r, ok := obj.(*gatewayv1.HTTPRoute)
		if !ok {
			return false, "", fmt.Errorf("RouteAccepted on %T", obj)
		}
		if len(r.Status.Parents) < len(r.Spec.ParentRefs) {
			return false, fmt.Sprintf("status for %d of %d parents", len(r.Status.Parents), len(r.Spec.ParentRefs)), nil
		}
		for _, p := range r.Status.Parents {
			for _, t := range []string{string(gatewayv1.RouteConditionAccepted), string(gatewayv1.RouteConditionResolvedRefs)} {
				if ok, reason := conditionTrue(p.Conditions, t, r.Generation); !ok {
					return false, fmt.Sprintf("parent %s: %s", p.ParentRef.Name, reason), nil
				}
			}
		}
		return true, "", nil
	}
}

// CRDEstablished: the API server serves the CRD's kind.
func CRDEstablished() Condition {
	return func(obj client.Object) (bool, string, error) {
		crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition)
		if !ok {
			return false, "", fmt.Errorf("CRDEstablished on %T", obj)
		}
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return true, "", nil
			}
		}
		return false, "Established is not True", nil
	}
}

// StatusCondition is for unstructured kinds (Kuma, Istio, Kong): the
// status.conditions entry of type is True and, when the entry or status has
// an observedGeneration, it is the latest generation.
func StatusCondition(condType string) Condition {
	return func(obj client.Object) (bool, string, error) {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return false, "", fmt.Errorf("StatusCondition on %T: pass an *unstructured.Unstructured", obj)
		}
		raw, _, err := unstructured.NestedSlice(u.Object, "status", "conditions")
		if err != nil {
			return false, "", fmt.Errorf("%s: status.conditions: %w", describe(u), err)
		}
		var conds []metav1.Condition
		for _, r := range raw {
			m, _ := r.(map[string]any)
			var cond metav1.Condition
			cond.Type, _ = m["type"].(string)
			s, _ := m["status"].(string)
			cond.Status = metav1.ConditionStatus(s)
			cond.Reason, _ = m["reason"].(string)
			cond.Message, _ = m["message"].(string)
			if g, ok := m["observedGeneration"].(int64); ok {
				cond.ObservedGeneration = g
			}
			conds = append(conds, cond)
		}
		ok, reason := conditionTrue(conds, condType, u.GetGeneration())
		return ok, reason, nil
	}
}

func conditionTrue(conds []metav1.Condition, condType string, generation int64) (bool, string) {
	cond := meta.FindStatusCondition(conds, condType)
	switch {
	case cond == nil:
		return false, condType + " not reported yet"
	case cond.ObservedGeneration != 0 && cond.ObservedGeneration < generation:
		return false, fmt.Sprintf("%s reported for generation %d, object is at %d", condType, cond.ObservedGeneration, generation)
	case cond.Status != metav1.ConditionTrue:
		return false, fmt.Sprintf("%s=%s %s: %s", condType, cond.Status, cond.Reason, cond.Message)
	}
	return true, ""
}
