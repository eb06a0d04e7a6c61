package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/meshgate/meshgate/internal/addons"
)

// moduleVersion is the module version this binary was built from, with the
// VCS revision when the build recorded one.
func moduleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = ", modified"
		}
	}
	if rev != "" && v == "(devel)" {
		v += fmt.Sprintf(" (commit %.12s%s)", rev, dirty)
	}
	return v
}

// versionText is what --version prints: the binary, then every version a
// run installs (the embedded matrix; --versions and --set change it per run).
func versionText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "meshgate %s, %s %s/%s\n", moduleVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	m, err := addons.DefaultMatrix()
	if err != nil {
		fmt.Fprintf(&b, "version matrix: %v\n", err)
		return b.String()
	}
	fmt.Fprintln(&b, "version matrix (internal/addons/versions.yaml; override with --versions FILE or --set key=value):")
	fmt.Fprintf(&b, "  kind.nodeImage         %s\n", m.Kind.NodeImage)
	fmt.Fprintf(&b, "  gatewayAPI             %s (%s channel)\n", m.GatewayAPI.Version, m.GatewayAPI.Channel)
	for _, k := range sortedKeys(m.Charts) {
		c := m.Charts[k]
		fmt.Fprintf(&b, "  charts.%-15s %s\n", k, c.Source())
	}
	for _, k := range sortedKeys(m.Images) {
		fmt.Fprintf(&b, "  images.%-15s %s\n", k, m.Images[k])
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
