package probe

import (
	"context"
	"fmt"
	"net/url"
	"sort"
)

// An AdminGetter reads one path of an admin API (Envoy's on a sidecar,
// Kong's on the gateway): through a port-forward, an exec, or a test server.
type AdminGetter interface {
	Get(ctx context.Context, path string) ([]byte, error)
}

// ReadStats fetches and parses an Envoy admin /stats dump.
func ReadStats(ctx context.Context, admin AdminGetter) (Stats, error) {
	body, err := admin.Get(ctx, "/stats")
	if err != nil {
		return Stats{}, fmt.Errorf("envoy admin /stats: %w", err)
	}
	return ParseStats(body)
}

const maxPages = 100

// UpstreamTargets is one Kong upstream with its targets.
type UpstreamTargets struct {
	Upstream string       `json:"upstream"`
	Targets  []KongTarget `json:"targets"`
}

// KongTargets lists every upstream and its targets, following pagination,
// sorted by upstream name.
func KongTargets(ctx context.Context, admin AdminGetter) ([]UpstreamTargets, error) {
	var ups []KongUpstream
	pages := 0
	for path := "/upstreams"; path != ""; pages++ {
		if pages == maxPages {
			return nil, fmt.Errorf("kong admin /upstreams: more than %d pages; is next looping?", maxPages)
		}
		body, err := admin.Get(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("kong admin %s: %w", path, err)
		}
		page, next, err := ParseKongUpstreams(body)
		if err != nil {
			return nil, err
		}
		ups = append(ups, page...)
		path = next
	}
	var out []UpstreamTargets
	for _, u := range ups {
		ut := UpstreamTargets{Upstream: u.Name}
		pages := 0
		for path := "/upstreams/" + url.PathEscape(u.ID) + "/targets"; path != ""; pages++ {
			if pages == maxPages {
				return nil, fmt.Errorf("kong admin targets of %s: more than %d pages; is next looping?", u.Name, maxPages)
			}
			body, err := admin.Get(ctx, path)
			if err != nil {
				return nil, fmt.Errorf("kong admin %s (upstream %s): %w", path, u.Name, err)
			}
			page, next, err := ParseKongTargets(body)
			if err != nil {
				return nil, fmt.Errorf("upstream %s: %w", u.Name, err)
			}
			ut.Targets = append(ut.Targets, page...)
			path = next
		}
		out = append(out, ut)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Upstream < out[j].Upstream })
	return out, nil
}
