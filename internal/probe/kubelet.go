package probe

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/kubernetes"
)

// The kubelet's resource metrics (kubernetes v1.37 pkg/kubelet/metrics/
// collectors/resource_metrics.go, served on /metrics/resource): cumulative
// CPU in core-seconds and the working set in bytes per container, labelled
// container, pod and namespace, each sample stamped with the time the
// kubelet's stats provider took it. kind has no metrics-server, so these are
// read from the kubelet through the API server's node proxy.
const (
	ContainerCPU           = "container_cpu_usage_seconds_total"
	ContainerWorkingSet    = "container_memory_working_set_bytes"
	ResourceMetricsSubpath = "metrics/resource"
)

// ContainerKey names one container of one pod.
type ContainerKey struct {
	Namespace, Pod, Container string
}

func (k ContainerKey) String() string { return k.Namespace + "/" + k.Pod + "/" + k.Container }

// ContainerUsage is one container's samples in one scrape.
type ContainerUsage struct {
	CPUSeconds      float64
	CPUAt           time.Time // when the kubelet sampled the CPU counter
	WorkingSetBytes float64
}

// ParseResourceMetrics reads the kubelet's resource metrics exposition.
func ParseResourceMetrics(r io.Reader) (map[ContainerKey]ContainerUsage, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("kubelet resource metrics are not Prometheus text format: %w", err)
	}
	out := map[ContainerKey]ContainerUsage{}
	for _, m := range fams[ContainerCPU].GetMetric() {
		l := labelMap(m)
		k := ContainerKey{l["namespace"], l["pod"], l["container"]}
		u := out[k]
		u.CPUSeconds = sampleValue(m)
		if m.TimestampMs != nil {
			u.CPUAt = time.UnixMilli(m.GetTimestampMs())
		}
		out[k] = u
	}
	for _, m := range fams[ContainerWorkingSet].GetMetric() {
		l := labelMap(m)
		k := ContainerKey{l["namespace"], l["pod"], l["container"]}
		u := out[k]
		u.WorkingSetBytes = sampleValue(m)
		out[k] = u
	}
	return out, nil
}

// FetchResourceMetrics reads node's resource metrics through the API
// server (GET /api/v1/nodes/{node}/proxy/metrics/resource), which needs the
// nodes/proxy permission a cluster admin's kubeconfig has.
func FetchResourceMetrics(ctx context.Context, cs kubernetes.Interface, node string) (map[ContainerKey]ContainerUsage, error) {
	body, err := cs.CoreV1().RESTClient().Get().Resource("nodes").Name(node).SubResource("proxy").Suffix(ResourceMetricsSubpath).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("kubelet resource metrics of node %s (GET /api/v1/nodes/%s/proxy/%s; needs nodes/proxy): %w", node, node, ResourceMetricsSubpath, err)
	}
	return ParseResourceMetrics(bytes.NewReader(body))
}
