package probe

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// Kong Admin API answers. kongTargetsDocs is verbatim from Kong's admin API
// reference ("List Targets", the target_data example of the admin-api docs
// source). kongUpstreams and kongPodTargets are constructed, not captured:
// the same response shape carrying the values KIC writes (Pod IP endpoints by
// default; <svc>.<ns>.svc:<port> with service-upstream, KIC
// internal/dataplane/translator translate_upstreams.go). No captured answer
// with Pod IPs was found in public sources; the cluster suite records real ones.
const (
	kongTargetsDocs = `{"data": [{
        "id": "4e8d95d4-40f2-4818-adcb-30e00c349618",
        "created_at": 1422386534,
        "upstream": {"id":"58c8ccbb-eafb-4566-991f-2ed4f678fa70"},
        "target": "example.com:8000",
        "weight": 100,
        "tags": ["user-level", "low-priority"]
    }, {
        "id": "ea29aaa3-3b2d-488c-b90c-56df8e0dd8c6",
        "created_at": 1422386534,
        "upstream": {"id":"4fe14415-73d5-4f00-9fbc-c72a0fccfcb2"},
        "target": "example.com:8000",
        "weight": 100,
        "tags": ["admin", "high-priority", "critical"]
    }],
    "next": "http://localhost:8001/upstreams/58c8ccbb-eafb-4566-991f-2ed4f678fa70/targets?offset=ea29aaa3-3b2d-488c-b90c-56df8e0dd8c6"}`
	kongUpstreams  = `{"data":[{"id":"u-1","name":"check-in-api.kong-air-production.8080.svc","algorithm":"round-robin","slots":10000}],"next":null}`
	kongPodTargets = `{"data":[
	  {"id":"t-1","target":"10.244.1.7:8080","weight":100,"upstream":{"id":"u-1"},"tags":["k8s-name:check-in-api"]},
	  {"id":"t-2","target":"10.244.2.9:8080","weight":100,"upstream":{"id":"u-1"}}],"next":null}`
)

func TestParseKongTargetsDocs(t *testing.T) {
	ts, next, err := ParseKongTargets([]byte(kongTargetsDocs))
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].Target != "example.com:8000" || ts[0].Weight != 100 || ts[0].Upstream.ID != "58c8ccbb-eafb-4566-991f-2ed4f678fa70" {
		t.Errorf("targets %+v", ts)
	}
	if next != "/upstreams/58c8ccbb-eafb-4566-991f-2ed4f678fa70/targets?offset=ea29aaa3-3b2d-488c-b90c-56df8e0dd8c6" {
		t.Errorf("next = %q, want the path and query of the URL", next)
	}
}

func TestClassifyTarget(t *testing.T) {
	addrs := Addresses{PodIPs: []string{"10.244.1.7", "10.244.2.9"}, ClusterIPs: []string{"10.96.14.3"}}
	tests := []struct {
		target string
		want   TargetKind
	}{
		{"10.244.1.7:8080", TargetPodIP},
		{"10.96.14.3:8080", TargetClusterIP},
		{"241.0.0.3:80", TargetMeshVIP},
		{"check-in-api.kong-air-production.svc:8080", TargetHostname},
		{"check-in-api.kong-air-production.svc.8080.mesh:80", TargetHostname},
		{"[::ffff:10.244.1.7]:8080", TargetPodIP},
		{"192.0.2.1:80", TargetUnknownIP},
	}
	for _, tc := range tests {
		got, err := ClassifyTarget(tc.target, addrs)
		if err != nil {
			t.Errorf("%s: %v", tc.target, err)
			continue
		}
		if got.Kind != tc.want {
			t.Errorf("%s: kind %s, want %s", tc.target, got.Kind, tc.want)
		}
	}
	for _, bad := range []string{"10.244.1.7", ":8080", ""} {
		if _, err := ClassifyTarget(bad, addrs); err == nil {
			t.Errorf("ClassifyTarget(%q) accepted a target without host:port", bad)
		}
	}
}

func TestParseKongRejects(t *testing.T) {
	tests := []struct{ body, want string }{
		{`<html>`, "body starts"},
		{`{"message":"Unauthorized"}`, `no "data" array`},
		{`{"data":{}}`, "cannot unmarshal"},
		{`{"data":[],"next":"::"}`, "not a path or URL"},
	}
	for _, tc := range tests {
		_, _, err := ParseKongTargets([]byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseKongTargets(%s) err = %v, want %q", tc.body, err, tc.want)
		}
	}
}

type fakeAdmin map[string]string

func (f fakeAdmin) Get(_ context.Context, path string) ([]byte, error) {
	b, ok := f[path]
	if !ok {
		return nil, fmt.Errorf("404 %s", path)
	}
	return []byte(b), nil
}

func TestKongTargetsFollowsPages(t *testing.T) {
	admin := fakeAdmin{
		"/upstreams":                        kongUpstreams,
		"/upstreams/u-1/targets":            strings.Replace(kongPodTargets, `"next":null`, `"next":"/upstreams/u-1/targets?offset=t-2"`, 1),
		"/upstreams/u-1/targets?offset=t-2": `{"data":[{"id":"t-3","target":"10.244.3.1:8080","weight":100,"upstream":{"id":"u-1"}}],"next":null}`,
	}
	uts, err := KongTargets(context.Background(), admin)
	if err != nil {
		t.Fatal(err)
	}
	if len(uts) != 1 || uts[0].Upstream != "check-in-api.kong-air-production.8080.svc" || len(uts[0].Targets) != 3 {
		t.Fatalf("got %+v", uts)
	}
	loop := fakeAdmin{"/upstreams": `{"data":[],"next":"/upstreams"}`}
	if _, err := KongTargets(context.Background(), loop); err == nil || !strings.Contains(err.Error(), "looping") {
		t.Errorf("a next link to itself: err = %v", err)
	}
}

func FuzzParseKongTargets(f *testing.F) {
	for _, s := range []string{kongTargetsDocs, kongPodTargets, kongUpstreams, `{"data":null}`, `{"data":[{"target":1}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, _, err := ParseKongTargets(b)
		if err != nil {
			return
		}
		for _, tg := range ts {
			ct, err := ClassifyTarget(tg.Target, Addresses{PodIPs: []string{"10.0.0.1"}})
			if err == nil && ct.Kind == "" {
				t.Fatalf("target %q classified without a kind", tg.Target)
			}
		}
	})
}
