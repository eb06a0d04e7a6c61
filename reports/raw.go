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
	ns int64
}

// readRaw decodes one raw vegeta results file (gob, JSON or CSV, as vegeta
// itself detects) and returns its samples in file order. A file that is not
// vegeta's or is cut short inside a result is an error naming the file; an
// empty file has no samples (the caller checks counts against the summary).
func readRaw(path string) ([]sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("raw results %s: %w; the run folder is incomplete: re-run the bench", path, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() == 0 {
		return nil, nil
	}
	dec := vegeta.DecoderFor(bufio.NewReaderSize(f, 1<<16))
	if dec == nil {
		return nil, fmt.Errorf("raw results %s: not vegeta results (gob, JSON or CSV); expected the files `meshgate bench` writes under raw/; re-run the bench or restore the file", path)
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
		out = append(out, sample{at: r.Timestamp, ns: int64(r.Latency)})
	}
}
