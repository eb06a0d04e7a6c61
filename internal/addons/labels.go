package addons

import (
	"bytes"
	"fmt"

	"helm.sh/helm/v4/pkg/postrenderer"
	"sigs.k8s.io/yaml"

	"github.com/meshgate/meshgate/fixtures"
)

// runLabeler is a Helm post-renderer that puts meshgate's labels (managed-by
// and the run ID) on every object a chart creates, so a run's objects can be
// found and told apart on a shared cluster. Only metadata.labels changes:
// selectors and pod templates stay as the chart wrote them.
type runLabeler struct{ runID string }

func (l runLabeler) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	docs, err := DecodeYAML(in.Bytes())
	if err != nil {
		return nil, fmt.Errorf("label rendered manifests: %w", err)
	}
	var out bytes.Buffer
	for _, d := range docs {
		labels := d.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[fixtures.LabelRun] = l.runID
		if _, ok := labels[fixtures.LabelManagedBy]; !ok {
			// Helm's own managed-by label stays when the chart sets it.
			labels[fixtures.LabelManagedBy] = fixtures.ManagedBy
		}
		d.SetLabels(labels)
		y, err := yaml.Marshal(d.Object)
		if err != nil {
			return nil, err
		}
		out.WriteString("---\n")
		out.Write(y)
	}
	return &out, nil
}

// postRenderers runs each non-nil post-renderer on the output of the one before.
func postRenderers(all ...postrenderer.PostRenderer) postrenderer.PostRenderer {
	var chain postRendererChain
	for _, p := range all {
		if p != nil {
			chain = append(chain, p)
		}
	}
	if len(chain) == 1 {
		return chain[0]
	}
	return chain
}

type postRendererChain []postrenderer.PostRenderer

func (c postRendererChain) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	for _, p := range c {
		out, err := p.Run(in)
		if err != nil {
			return nil, err
		}
		in = out
	}
	return in, nil
}
