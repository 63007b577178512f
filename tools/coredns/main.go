// CoreDNS with only the plugins a local cluster's DNS uses (the stock main links all 60+, cloud SDKs included).
// The order in which plugins run is not set here: it is the fixed list core/dnsserver.Directives (zdirectives.go);
// a plugin left out is simply an unknown directive in a Corefile. `coredns -plugins` lists what is linked.
package main

import (
	"github.com/coredns/coredns/coremain"

	// The kubeadm default Corefile (errors, health, ready, kubernetes, prometheus, forward, cache, loop, reload,
	// loadbalance) plus log, hosts, bind (listen on the node IP only) and whoami (a trivial zone for probes).
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/whoami"
)

func main() {
	coremain.Run()
}
