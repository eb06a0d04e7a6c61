package lint

import (
	"io"

	"github.com/meshgate/meshgate/internal/lint/manifest"
)

// StdinName is how objects read from standard input (-f -) are located.
const StdinName = manifest.StdinName

// InputError is bad input (unreadable or unparseable file, not a Kubernetes
// object); the CLI exits 2 on it.
type InputError = manifest.InputError

// LoadPaths reads files, folders and "-" (stdin); see manifest.LoadPaths.
func LoadPaths(paths []string, stdin io.Reader) ([]*Object, error) {
	return manifest.LoadPaths(paths, stdin)
}

// Parse reads one multi-document YAML or JSON stream; see manifest.Parse.
func Parse(name string, data []byte) ([]*Object, error) { return manifest.Parse(name, data) }
