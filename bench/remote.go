package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The load generator's HTTP API (fixtures/apps/loadgen serves it in the
// cluster; meshgate reaches it through a port-forward).
const (
	AttackPath   = "/attack"
	HealthPath   = "/healthz"
	GobMediaType = "application/x-vegeta-gob"
	// ErrorTrailer carries an attack's failure after the streamed results.
	ErrorTrailer = "X-Meshgate-Attack-Error"
)

// NewAttackHandler serves POST /attack: an AttackSpec as JSON in, the
// measured results out as they arrive, in vegeta's gob encoding, with any
// failure in the ErrorTrailer trailer. One attack runs at a time: two
// concurrent attacks from one pod would measure each other.
func NewAttackHandler(log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var busy sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+HealthPath, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("POST "+AttackPath, func(w http.ResponseWriter, r *http.Request) {
		var spec AttackSpec
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&spec); err != nil {
			http.Error(w, "attack spec is not JSON of bench.AttackSpec: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := spec.Validate(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if !busy.TryLock() {
			http.Error(w, "an attack is already running on this load generator; attacks must not overlap", http.StatusConflict)
			return
		}
		defer busy.Unlock()
		log.Info("attack", "name", spec.Name, "url", spec.URL, "rate", spec.Rate, "connections", spec.Connections)
		w.Header().Set("Content-Type", GobMediaType)
		w.Header().Set("Trailer", ErrorTrailer)
		w.WriteHeader(http.StatusOK)
		bw := bufio.NewWriterSize(w, 1<<16)
		enc := vegeta.NewEncoder(bw)
		err := Attack(r.Context(), spec, func(res *vegeta.Result) error { return enc.Encode(res) })
		if ferr := bw.Flush(); err == nil {
			err = ferr
		}
		if err != nil {
			log.Error("attack failed", "name", spec.Name, "err", err)
			w.Header().Set(ErrorTrailer, strings.ReplaceAll(err.Error(), "\n", " "))
		}
	})
	return mux
}

// RemoteLoader asks a load generator at BaseURL (e.g. a port-forward to the
// loadgen pod) to run each attack, and decodes the streamed results.
type RemoteLoader struct {
	BaseURL string
	Client  *http.Client // default: http.DefaultClient
}

// Attack implements Loader.
func (l RemoteLoader) Attack(ctx context.Context, spec AttackSpec, emit func(*vegeta.Result) error) error {
	body, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(l.BaseURL, "/")+AttackPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	client := l.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("load generator at %s: %w", l.BaseURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("load generator at %s refused attack %q: %s: %s", l.BaseURL, spec.Name, resp.Status, bytes.TrimSpace(msg))
	}
	dec := vegeta.NewDecoder(bufio.NewReaderSize(resp.Body, 1<<16))
	for n := 0; ; n++ {
		var r vegeta.Result
		err := dec.Decode(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("load generator at %s: result %d of attack %q: %w", l.BaseURL, n, spec.Name, err)
		}
		if err := emit(&r); err != nil {
			return err
		}
	}
	if msg := resp.Trailer.Get(ErrorTrailer); msg != "" {
		return fmt.Errorf("load generator at %s: attack %q failed: %s", l.BaseURL, spec.Name, msg)
	}
	return nil
}
