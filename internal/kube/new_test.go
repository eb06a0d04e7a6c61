package kube_test

import (
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/meshgate/meshgate/internal/kube"
)

func TestNewRefusesBadRunIDs(t *testing.T) {
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"20261122-021351", true},
		{"run_1.a", true},
		{"", false},
		{"has space", false},
		{strings.Repeat("x", 64), false},
		{"-leading-dash", false},
	} {
		t.Run(tc.id, func(t *testing.T) {
			c, err := kube.New(cfg, tc.id, nil)
			if tc.ok {
				if err != nil || c.RunID() != tc.id {
					t.Fatalf("New(%q): %v", tc.id, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "run ID") {
				t.Errorf("New(%q): err %v, want one naming the run ID", tc.id, err)
			}
		})
	}
}
