package reports

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// sample is the part of a vegeta result the charts need.
type sample struct {
	at time.Time
	ms float64
	ok bool
}

// readRaw decodes one raw vegeta results file (gob, JSON or CSV, as vegeta
// itself detects) and returns its samples in file order. A file that is empty,
// not vegeta's, or cut short is an error naming the file: a chart drawn from
// part of a run would look complete and be wrong.
func readRaw(path string) ([]sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("raw results %s: %w", path, err)
	}
	defer f.Close()
	dec := vegeta.DecoderFor(bufio.NewReaderSize(f, 1<<16))
	if dec == nil {
		return nil, fmt.Errorf("raw results %s: not vegeta results (gob, JSON or CSV) or empty; expected the files `meshgate bench` writes under raw/; re-run the bench or remove the file", path)
	}
	var out []sample
	for {
		var r vegeta.Result
		err := dec.Decode(&r)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("raw results %s: result %d: %w (file truncated or corrupt; re-run the bench)", path, len(out)+1, err)
		}
		out = append(out, sample{at: r.Timestamp, ms: durationMs(r.Latency), ok: r.Error == "" && r.Code >= 200 && r.Code < 400})
	}
}

func durationMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
