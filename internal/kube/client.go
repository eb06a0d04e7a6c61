// Package kube applies, waits for and cleans up the objects of one meshgate
// run, and reaches into pods (port-forward, exec, logs).
//
// Every object meshgate applies carries the labels fixtures.LabelManagedBy
// and fixtures.LabelRun=<run ID>; Cleanup deletes only objects carrying this
// run's label, so objects created by hand or by another run are never touched.
package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/fixtures"
)

// FieldManager owns, in server-side apply, every field meshgate sets.
const FieldManager = "meshgate"

// Client applies and cleans up the objects of one run.
type Client struct {
	cfg      *rest.Config
	c        client.Client
	cs       kubernetes.Interface
	runID    string
	log      *slog.Logger
	Timeouts Timeouts

	mu    sync.Mutex
	kinds []appliedKind // in order of first apply
}

type appliedKind struct {
	gvk        schema.GroupVersionKind
	namespaced bool
}

// New returns a client for the cluster at cfg whose objects are labelled
// with runID. A nil log discards.
func New(cfg *rest.Config, runID string, log *slog.Logger) (*Client, error) {
	if errs := validation.IsValidLabelValue(runID); runID == "" || len(errs) > 0 {
		return nil, fmt.Errorf("run ID %q is not a valid label value (%v): use letters, digits, '-', '_' or '.', at most 63", runID, errs)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := client.New(cfg, client.Options{Scheme: fixtures.Scheme()})
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", cfg.Host, err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("clientset for %s: %w", cfg.Host, err)
	}
	return &Client{cfg: cfg, c: c, cs: cs, runID: runID, log: log, Timeouts: DefaultTimeouts()}, nil
}

// RunID is the value of fixtures.LabelRun on this run's objects.
func (c *Client) RunID() string { return c.runID }

// Apply server-side applies objs in apply order (namespaces and CRDs first,
// routes last) with field manager "meshgate", forcing ownership, after adding
// this run's labels. Unknown or duplicate fields are errors (strict field
// validation), not silently dropped. After a CRD is applied it waits until
// the CRD is served, so its objects can follow in the same call. Each obj is
// updated in place with the server's answer (labels, resourceVersion, status).
//
// Build each object in one place: a second apply of the same object by
// meshgate without a field (a label, say) removes that field.
func (c *Client) Apply(ctx context.Context, objs ...client.Object) error {
	sorted, err := fixtures.SortForApply(objs)
	if err != nil {
		return err
	}
	for _, obj := range sorted {
		if err := c.applyOne(ctx, obj); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) applyOne(ctx context.Context, obj client.Object) error {
	u, err := fixtures.ToUnstructured(obj)
	if err != nil {
		return err
	}
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[fixtures.LabelManagedBy] = fixtures.ManagedBy
	labels[fixtures.LabelRun] = c.runID
	u.SetLabels(labels)

	name := describe(u)
	namespaced, err := c.c.IsObjectNamespaced(u)
	switch {
	case isNoMatch(err):
		return fmt.Errorf("apply %s: the cluster does not serve %s (%w): install its CRD first", name, u.GroupVersionKind(), err)
	case err != nil:
		return fmt.Errorf("apply %s: looking up %s in the API server's discovery: %w", name, u.GroupVersionKind(), err)
	}
	if namespaced && u.GetNamespace() == "" {
		return fmt.Errorf("apply %s: %s is namespaced but metadata.namespace is empty: set it", name, u.GetKind())
	}
	if !namespaced && u.GetNamespace() != "" {
		return fmt.Errorf("apply %s: %s is cluster-scoped but metadata.namespace is %q: remove it", name, u.GetKind(), u.GetNamespace())
	}
	c.remember(appliedKind{u.GroupVersionKind(), namespaced})
	if err := c.c.Patch(ctx, u, client.Apply, client.FieldOwner(FieldManager), client.ForceOwnership, client.FieldValidation("Strict")); err != nil {
		return fmt.Errorf("apply %s: %w", name, err)
	}
	c.log.Debug("applied", "object", name, "resourceVersion", u.GetResourceVersion())
	if err := c.writeBack(u, obj); err != nil {
		return fmt.Errorf("apply %s: %w", name, err)
	}
	if u.GetKind() == "CustomResourceDefinition" {
		return c.waitCRDServed(ctx, u.GetName())
	}
	return nil
}

// waitCRDServed waits until the CRD is established and this client's
// discovery maps its kind, which can lag behind Established by a moment.
func (c *Client) waitCRDServed(ctx context.Context, name string) error {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	crd.SetName(name)
	if err := c.WaitFor(ctx, crd, "CRD "+name+" established", CRDEstablished(), c.Timeouts.CRDEstablished); err != nil {
		return err
	}
	gk := schema.GroupKind{Group: crd.Spec.Group, Kind: crd.Spec.Names.Kind}
	var versions []string
	for _, v := range crd.Spec.Versions {
		if v.Served {
			versions = append(versions, v.Name)
		}
	}
	return c.poll(ctx, "CRD "+name+" served", c.Timeouts.CRDEstablished, func(context.Context) (bool, string, error) {
		for _, v := range versions {
			if _, err := c.c.RESTMapper().RESTMapping(gk, v); err != nil {
				return false, err.Error(), nil
			}
		}
		return true, "", nil
	})
}

func (c *Client) writeBack(u *unstructured.Unstructured, obj client.Object) error {
	if dst, ok := obj.(*unstructured.Unstructured); ok {
		dst.Object = u.Object
		return nil
	}
	// Start from zero so that nothing of the object as built survives that
	// the server did not return.
	v := reflect.ValueOf(obj).Elem()
	v.Set(reflect.Zero(v.Type()))
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		return fmt.Errorf("reading the server's answer into %T: %w", obj, err)
	}
	return nil
}

// Track makes Cleanup also look at the kinds of objs without applying them:
// for cleaning up a run from another process (`meshgate down`), pass the
// objects the run would have applied.
func (c *Client) Track(objs ...client.Object) error {
	for _, obj := range objs {
		gvk, err := fixtures.GVK(obj)
		if err != nil {
			return err
		}
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		namespaced, err := c.c.IsObjectNamespaced(u)
		if err != nil {
			if isNoMatch(err) {
				continue // not served: nothing of that kind to delete
			}
			return fmt.Errorf("track %s: %w", gvk.Kind, err)
		}
		c.remember(appliedKind{gvk, namespaced})
	}
	return nil
}

func (c *Client) remember(k appliedKind) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Contains(c.kinds, k) {
		c.kinds = append(c.kinds, k)
	}
}

// Cleanup deletes every object of the kinds this client applied that carries
// this run's label, kinds in reverse apply order, and waits until each is
// gone. Objects without the label, or with another run's, are left alone;
// CRDs are kept (deleting one would delete objects of other owners), while a
// namespace of this run takes everything inside it along.
// All failures are returned together.
func (c *Client) Cleanup(ctx context.Context) error {
	c.mu.Lock()
	kinds := slices.Clone(c.kinds)
	c.mu.Unlock()
	slices.SortStableFunc(kinds, func(a, b appliedKind) int {
		return fixtures.ApplyRank(b.gvk.Kind) - fixtures.ApplyRank(a.gvk.Kind)
	})
	var errs []error
	for _, k := range kinds {
		if k.gvk.Kind == "CustomResourceDefinition" {
			// Deleting a CRD deletes every object of its kind, also those
			// meshgate did not create: CRDs stay.
			c.log.Debug("keeping CRDs", "run", c.runID)
			continue
		}
		errs = append(errs, c.cleanupKind(ctx, k))
	}
	return errors.Join(errs...)
}

func (c *Client) cleanupKind(ctx context.Context, k appliedKind) error {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List"))
	if err := c.c.List(ctx, list, client.MatchingLabels{fixtures.LabelRun: c.runID}); err != nil {
		if apierrors.IsNotFound(err) || isNoMatch(err) {
			return nil // the kind itself is gone (its CRD was deleted)
		}
		return fmt.Errorf("cleanup: listing %s with %s=%s: %w", k.gvk.Kind, fixtures.LabelRun, c.runID, err)
	}
	var errs []error
	var deleted []*unstructured.Unstructured
	for i := range list.Items {
		obj := &list.Items[i]
		err := c.c.Delete(ctx, obj, client.PropagationPolicy("Background"))
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			errs = append(errs, fmt.Errorf("cleanup: deleting %s: %w", describe(obj), err))
		default:
			c.log.Debug("deleting", "object", describe(obj))
			deleted = append(deleted, obj)
		}
	}
	for _, obj := range deleted {
		errs = append(errs, c.WaitGone(ctx, obj, c.Timeouts.Delete))
	}
	return errors.Join(errs...)
}

// WaitGone waits until obj is NotFound (finalizers done).
func (c *Client) WaitGone(ctx context.Context, obj client.Object, timeout time.Duration) error {
	return c.poll(ctx, describe(obj)+" deleted", timeout, func(ctx context.Context) (bool, string, error) {
		probe := &unstructured.Unstructured{}
		gvk, err := fixtures.GVK(obj)
		if err != nil {
			return false, "", err
		}
		probe.SetGroupVersionKind(gvk)
		err = c.c.Get(ctx, client.ObjectKeyFromObject(obj), probe)
		switch {
		case apierrors.IsNotFound(err):
			return true, "", nil
		case err != nil:
			return false, err.Error(), nil
		}
		reason := "still present"
		if ts := probe.GetDeletionTimestamp(); ts != nil {
			reason = fmt.Sprintf("terminating since %s, finalizers %v", ts.UTC().Format(time.RFC3339), probe.GetFinalizers())
		}
		return false, reason, nil
	})
}

func describe(obj client.Object) string {
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	if kind == "" {
		if gvk, err := fixtures.GVK(obj); err == nil {
			kind = gvk.Kind
		}
	}
	if ns := obj.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", kind, ns, obj.GetName())
	}
	return fmt.Sprintf("%s %s", kind, obj.GetName())
}
