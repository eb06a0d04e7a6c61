package scenarios

import (
	"fmt"
	"sort"

	"github.com/meshgate/meshgate/fixtures"
)

// Config is what scenario builders may vary (images, waits).
type Config struct {
	Timeouts  Timeouts
	EchoImage string // backend image; fixtures.EchoImage by default
}

// DefaultConfig is the configuration `meshgate e2e` uses unless told otherwise.
func DefaultConfig() Config {
	return Config{Timeouts: DefaultTimeouts(), EchoImage: fixtures.EchoImage}
}

// builders maps each mesh to its scenario list. Each mesh's file registers
// itself from init (written once, before main; read-only afterwards), the
// way Gateway API's conformance tests register.
var builders = map[Mesh]func(Config) []Scenario{}

func register(m Mesh, b func(Config) []Scenario) {
	if _, dup := builders[m]; dup {
		panic(fmt.Sprintf("scenarios: mesh %s registered twice", m))
	}
	builders[m] = b
}

// For returns the scenarios of one mesh, in story order.
func For(m Mesh, cfg Config) []Scenario {
	if b, ok := builders[m]; ok {
		return b(cfg)
	}
	return nil
}

// Meshes lists the meshes with scenarios, sorted.
func Meshes() []Mesh {
	var ms []Mesh
	for m := range builders {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i] < ms[j] })
	return ms
}

// All returns every mesh's scenarios.
func All(cfg Config) []Scenario {
	var all []Scenario
	for _, m := range Meshes() {
		all = append(all, For(m, cfg)...)
	}
	return all
}
