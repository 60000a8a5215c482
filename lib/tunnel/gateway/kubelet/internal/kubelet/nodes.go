package kubelet

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// NodeSet names the virtual nodes this kubelet API serves.
type NodeSet interface {
	Names(ctx context.Context) ([]string, error)
}

// StaticNodes is --node-names.
type StaticNodes []string

func (n StaticNodes) Names(context.Context) ([]string, error) { return n, nil }

// DefaultNodeSelector selects the nodes anex registers (lib/kube/virtual-node.ts
// requiredLabels: type=virtual-kubelet and a node-provider naming the marketplace).
const DefaultNodeSelector = "type=virtual-kubelet,node-provider in (vastai,runpod)"

// LabelledNodes are the nodes matching a label selector, listed again after TTL.
type LabelledNodes struct {
	Kube     kubernetes.Interface
	Selector string
	TTL      time.Duration

	mu      sync.Mutex
	names   []string
	fetched time.Time
}

func (n *LabelledNodes) Names(ctx context.Context) ([]string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ttl := n.TTL
	if ttl == 0 {
		ttl = 30 * time.Second
	}
	if n.names != nil && time.Since(n.fetched) < ttl {
		return n.names, nil
	}
	list, err := n.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: n.Selector})
	if err != nil {
		if n.names != nil {
			// Keep answering with the last list: a transient API error must not turn every
			// pod into "not ours".
			return n.names, nil
		}
		return nil, fmt.Errorf("listing nodes %q: %w", n.Selector, err)
	}
	names := make([]string, 0, len(list.Items))
	for _, node := range list.Items {
		names = append(names, node.Name)
	}
	slices.Sort(names)
	n.names, n.fetched = names, time.Now()
	return names, nil
}
