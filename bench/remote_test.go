package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/meshgate/meshgate/fixtures/apps/echo/echoserver"
)

func TestRemoteLoaderStreamsResults(t *testing.T) {
	backend := httptest.NewServer(echoserver.New(echoserver.Options{}))
	defer backend.Close()
	loadgen := httptest.NewServer(NewAttackHandler(nil))
	defer loadgen.Close()
	l := RemoteLoader{BaseURL: loadgen.URL}
	spec := AttackSpec{Name: "mesh-c2-r0", URL: backend.URL + "/bytes/1024", Rate: 200, Duration: Duration(time.Second), Warmup: Duration(100 * time.Millisecond), Connections: 2}
	var got []vegeta.Result
	if err := l.Attack(t.Context(), spec, func(r *vegeta.Result) error { got = append(got, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) < 150 || len(got) > 230 {
		t.Errorf("got %d results for 1 s at 200 rps after warm-up, want about 200", len(got))
	}
	for _, r := range got {
		if r.Attack != spec.Name || r.Code != 200 || r.BytesIn != 1024 || r.Body != nil {
			t.Fatalf("result %+v: want attack %q, 200, 1024 bytes in, body dropped", r, spec.Name)
		}
	}
}

func TestAttackHandlerRefusals(t *testing.T) {
	loadgen := httptest.NewServer(NewAttackHandler(nil))
	defer loadgen.Close()
	l := RemoteLoader{BaseURL: loadgen.URL}
	noop := func(*vegeta.Result) error { return nil }
	err := l.Attack(t.Context(), AttackSpec{Name: "bad", URL: "http://x", Rate: 0, Duration: Duration(time.Second), Connections: 1}, noop)
	if err == nil || !strings.Contains(err.Error(), "400 Bad Request") || !strings.Contains(err.Error(), "rate is 0") {
		t.Errorf("invalid spec: %v", err)
	}

	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	long := AttackSpec{Name: "long", URL: backend.URL, Rate: 10, Duration: Duration(time.Hour), Connections: 1}
	done := make(chan error, 1)
	go func() { done <- l.Attack(ctx, long, noop) }()
	time.Sleep(200 * time.Millisecond)
	err = l.Attack(t.Context(), AttackSpec{Name: "second", URL: backend.URL, Rate: 10, Duration: Duration(time.Second), Connections: 1}, noop)
	if err == nil || !strings.Contains(err.Error(), "409 Conflict") {
		t.Errorf("overlapping attack: %v, want 409", err)
	}
	cancel()
	if err := <-done; err == nil {
		t.Error("a cancelled remote attack returned no error")
	}
}
