package kubelet

import (
	"testing"

	"k8s.io/apimachinery/pkg/labels"
)

// The default selector must match the labels lib/kube/virtual-node.ts requiredLabels gives
// anex's nodes (node-provider is lib/offers PROVIDERS: vastai, runpod) and nothing else.
func TestDefaultNodeSelectorMatchesAnexNodes(t *testing.T) {
	selector, err := labels.Parse(DefaultNodeSelector)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		labels labels.Set
		want   bool
	}{
		{"vastai node", labels.Set{"type": "virtual-kubelet", "node-provider": "vastai"}, true},
		{"runpod node", labels.Set{"type": "virtual-kubelet", "node-provider": "runpod"}, true},
		{"another virtual kubelet", labels.Set{"type": "virtual-kubelet", "node-provider": "aci"}, false},
		{"an ordinary node", labels.Set{"kubernetes.io/os": "linux"}, false},
	}
	for _, c := range cases {
		if got := selector.Matches(c.labels); got != c.want {
			t.Errorf("%s: matches = %v, want %v", c.name, got, c.want)
		}
	}
}
