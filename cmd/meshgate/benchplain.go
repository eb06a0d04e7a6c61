package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/meshgate/meshgate/internal/addons"
	"github.com/meshgate/meshgate/internal/cluster"
)

// plainKongNote says, for `bench --dry-run`, what mode kong's Kong is: the
// plain release the bench installs, or the user's --kong-plain-url.
func plainKongNote(kongPlainURL string) (string, error) {
	if kongPlainURL != "" {
		return "# mode kong goes through --kong-plain-url " + kongPlainURL + "; meshgate installs no Kong for it\n", nil
	}
	m, err := addons.DefaultMatrix()
	if err != nil {
		return "", err
	}
	labels := addons.KongPlainNamespaceOptOut()
	var optOut []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		optOut = append(optOut, k+"="+labels[k])
	}
	return fmt.Sprintf("# mode kong installs the plain Kong: Helm release %s in namespace %s (chart %s), IngressClass %s, proxy Service %s (ClusterIP), namespace labelled %s: outside any mesh; it serves route bench-plain (shared)\n",
		cluster.KongPlainRelease, cluster.KongPlainNamespace, m.Charts[addons.ChartKong].Source(), cluster.KongPlainClass,
		cluster.KongPlainProxyService, strings.Join(optOut, ", ")), nil
}
