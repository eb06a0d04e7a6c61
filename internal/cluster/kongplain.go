package cluster

// The plain Kong: a second release of the same kong/ingress chart, outside
// any mesh, that bench mode kong goes through. Its own namespace (labelled so
// no injector adds a sidecar), its own IngressClass and its own Gateway API
// controller name keep its controller and the meshed Kong's from reconciling
// each other's routes. Names follow the release name the way KongRelease's
// do ("<release>-gateway-proxy": the ingress chart's controller.proxy.nameOverride
// and the kong subchart's "<fullname>-proxy", Kong/charts ingress-0.24.0).
const (
	KongPlainNamespace      = "meshgate-bench-kong"
	KongPlainRelease        = "kong-plain"
	KongPlainGatewayName    = KongPlainRelease + "-gateway"    // Deployment of its gateway pods
	KongPlainControllerName = KongPlainRelease + "-controller" // Deployment of its ingress controller
	KongPlainProxyService   = KongPlainGatewayName + "-proxy"  // ClusterIP, port 80
	// KongPlainClass is its IngressClass: KIC routes only Ingresses of its
	// --ingress-class (CONTROLLER_INGRESS_CLASS, set from the chart's
	// ingressController.ingressClass).
	KongPlainClass = "kong-plain"
	// KongPlainGatewayController is its --gateway-api-controller-name: KIC
	// reconciles only GatewayClasses with that spec.controllerName (default
	// konghq.com/kic-gateway-controller, the meshed Kong's), so it leaves the
	// meshed Kong's Gateways and HTTPRoutes alone. Kong/kubernetes-ingress-controller
	// v3.5.13 internal/cmd/rootcmd/config/cli.go.
	KongPlainGatewayController = "meshgate.io/kong-plain"
)
