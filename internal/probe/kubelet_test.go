package probe

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/component-base/metrics"
)

// kubeletCollector emits container samples the way the kubelet's resource
// metrics collector does (kubernetes v1.37 pkg/kubelet/metrics/collectors/
// resource_metrics.go): STABLE descriptors, counter and gauge values stamped
// with the stats provider's sample time.
type kubeletCollector struct {
	metrics.BaseStableCollector
	at      time.Time
	samples map[ContainerKey]ContainerUsage
}

var (
	cpuDesc = metrics.NewDesc(ContainerCPU, "Cumulative cpu time consumed by the container in core-seconds",
		[]string{"container", "pod", "namespace"}, nil, metrics.STABLE, "")
	memDesc = metrics.NewDesc(ContainerWorkingSet, "Current working set of the container in bytes",
		[]string{"container", "pod", "namespace"}, nil, metrics.STABLE, "")
)

func (c *kubeletCollector) DescribeWithStability(ch chan<- *metrics.Desc) {
	ch <- cpuDesc
	ch <- memDesc
}

func (c *kubeletCollector) CollectWithStability(ch chan<- metrics.Metric) {
	for k, u := range c.samples {
		ch <- metrics.NewLazyMetricWithTimestamp(c.at, metrics.NewLazyConstMetric(cpuDesc, metrics.CounterValue, u.CPUSeconds, k.Container, k.Pod, k.Namespace))
		ch <- metrics.NewLazyMetricWithTimestamp(c.at, metrics.NewLazyConstMetric(memDesc, metrics.GaugeValue, u.WorkingSetBytes, k.Container, k.Pod, k.Namespace))
	}
}

// The kubelet's own registry and handler serve the samples behind the API
// server's node proxy path; FetchResourceMetrics must read them back exactly.
func TestFetchResourceMetricsFromKubeletExposition(t *testing.T) {
	at := time.UnixMilli(1765000000123)
	want := map[ContainerKey]ContainerUsage{
		{"kong", "kong-gateway-7d9f-abcde", "proxy"}:                  {CPUSeconds: 12.5, WorkingSetBytes: 73 << 20},
		{"meshgate-bench-mesh", "echo-bench-5c4-xyz", "kuma-sidecar"}: {CPUSeconds: 3.25, WorkingSetBytes: 41 << 20},
		{"istio-system", "ztunnel-q7r8s", "istio-proxy"}:              {CPUSeconds: 0.75, WorkingSetBytes: 9 << 20},
	}
	reg := metrics.NewKubeRegistry()
	reg.CustomMustRegister(&kubeletCollector{at: at, samples: want})
	mux := http.NewServeMux()
	mux.Handle("/api/v1/nodes/worker-1/proxy/metrics/resource", metrics.HandlerFor(reg, metrics.HandlerOpts{ErrorHandling: metrics.ContinueOnError}))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	got, err := FetchResourceMetrics(t.Context(), cs, "worker-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d containers, want %d: %v", len(got), len(want), got)
	}
	for k, w := range want {
		g := got[k]
		if g.CPUSeconds != w.CPUSeconds || g.WorkingSetBytes != w.WorkingSetBytes || !g.CPUAt.Equal(at) {
			t.Errorf("%s: got %+v, want cpu %g at %s, working set %g", k, g, w.CPUSeconds, at, w.WorkingSetBytes)
		}
	}
	if _, err := FetchResourceMetrics(t.Context(), cs, "worker-2"); err == nil {
		t.Error("a node the API server does not proxy gave no error")
	}
}

func TestParseResourceMetricsRejectsForeignText(t *testing.T) {
	if _, err := ParseResourceMetrics(strings.NewReader("<html>not metrics</html>")); err == nil {
		t.Error("an HTML page parsed as resource metrics")
	}
}
