package kube

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestCollectDiagnostics(t *testing.T) {
	ready := corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue}
	notReady := corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse}
	one := int32(1)
	cs := fake.NewSimpleClientset(
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "echo-1", Namespace: "echo"},
			Spec: corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "kuma-init"}, {Name: "kuma-sidecar"}},
				Containers: []corev1.Container{{Name: "echo", Env: []corev1.EnvVar{
					{Name: "AUTH", Value: "Bearer abcdefghijklmnopqrstuvwxyz"},
				}}},
			},
			Status: corev1.PodStatus{
				Conditions:        []corev1.PodCondition{notReady},
				ContainerStatuses: []corev1.ContainerStatus{{Name: "echo", RestartCount: 3}},
			},
		},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "healthy", Namespace: "echo"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}},
			Status:     corev1.PodStatus{Conditions: []corev1.PodCondition{ready}},
		},
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "echo", Generation: 2},
			Spec:       appsv1.DeploymentSpec{Replicas: &one},
			Status:     appsv1.DeploymentStatus{ObservedGeneration: 2, AvailableReplicas: 0},
		},
		&corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "e1", Namespace: "echo"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "echo-1"},
			Reason:         "BackOff", Type: "Warning", Count: 4,
			Message:       "Back-off restarting failed container echo",
			LastTimestamp: metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		},
	)
	dir := t.TempDir()
	nodeLogs := false
	err := collect(context.Background(), cs, nil, DiagnosticsOptions{
		Dir: dir, Namespaces: []string{"echo"},
		NodeLogs: func(d string) error { nodeLogs = true; return errors.New("no docker here") },
	})
	if err == nil || !strings.Contains(err.Error(), "node logs: no docker here") {
		t.Errorf("collect error %v: a failed part must be reported, not hidden", err)
	}
	if !nodeLogs {
		t.Error("node logs not requested")
	}
	read := func(rel string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Errorf("missing %s: %v", rel, err)
		}
		return string(b)
	}
	if ev := read("echo/events.txt"); !strings.Contains(ev, "2026-01-02T03:04:05Z Warning BackOff") || !strings.Contains(ev, "pod/echo-1 x4") {
		t.Errorf("events.txt:\n%s", ev)
	}
	pod := read("echo/failing/pod-echo-1.yaml")
	if strings.Contains(pod, "abcdefghijklmnopqrstuvwxyz") || !strings.Contains(pod, "Bearer "+Redacted) {
		t.Errorf("failing pod YAML not redacted:\n%s", pod)
	}
	if _, err := os.Stat(filepath.Join(dir, "echo/failing/pod-healthy.yaml")); err == nil {
		t.Error("a ready pod was dumped as failing")
	}
	if dep := read("echo/failing/deployment-echo.yaml"); !strings.Contains(dep, "kind: Deployment") {
		t.Errorf("failing deployment YAML:\n%s", dep)
	}
	for _, rel := range []string{"echo/logs/echo-1/kuma-init.log", "echo/logs/echo-1/kuma-sidecar.log", "echo/logs/echo-1/echo.log", "echo/logs/echo-1/echo.previous.log", "echo/logs/healthy/app.log"} {
		read(rel)
	}
	if _, err := os.Stat(filepath.Join(dir, "echo/logs/healthy/app.previous.log")); err == nil {
		t.Error("previous log fetched for a container that never restarted")
	}
	if e := read("errors.txt"); !strings.Contains(e, "no docker here") {
		t.Errorf("errors.txt: %q", e)
	}
}

func TestUpstreamIDs(t *testing.T) {
	body := []byte(`{"data":[{"id":"a1","name":"echo.echo.80.svc"},{"id":"b2"}],"next":null}`)
	if got := UpstreamIDs(body); strings.Join(got, ",") != "a1,b2" {
		t.Errorf("UpstreamIDs = %v", got)
	}
	if got := UpstreamIDs([]byte("<html>")); got != nil {
		t.Errorf("garbage gave %v", got)
	}
}
