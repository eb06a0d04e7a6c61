package lint

import (
	"path/filepath"
	"strings"
	"testing"
)

func loadCase(t *testing.T, files ...string) *Model {
	t.Helper()
	var paths []string
	for _, f := range files {
		paths = append(paths, filepath.Join("testdata", "rules", f))
	}
	objs, err := LoadPaths(paths, nil)
	if err != nil {
		t.Fatalf("load %v: %v", files, err)
	}
	return NewModel(objs)
}

func byRule(fs []Finding, id string) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.RuleID == id {
			out = append(out, f)
		}
	}
	return out
}

var (
	kumaStrict  = []string{"kuma-strict-base.yaml"}
	istioStrict = []string{"istio-shop.yaml", "istio-strict.yaml"}
	istioPerm   = []string{"istio-shop.yaml", "istio-permissive.yaml"}
	ambientShop = []string{"ambient-shop.yaml"}
	istioFixed  = []string{"istio-shop.yaml", "istio-strict.yaml", "service-upstream.yaml", "kong-ingress-no-preserve-host.yaml"}
)

func with(base []string, more ...string) []string {
	return append(append([]string{}, base...), more...)
}

// TestRules: per rule, manifests that must trigger it (want > 0) and near
// misses that must not (want 0).
func TestRules(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		rule  string
		want  int
		sev   Severity
		msg   []string // substrings every finding's message must contain
	}{
		{"kuma ignore annotation", with(kumaStrict, "podip-kuma-ignore.yaml"), "MG001", 1, SeverityError,
			[]string{"Ingress/shop/echo", "Service/shop/echo", "kuma.io/ignore", "service-upstream: \"true\"", "echo.shop.svc.8080.mesh"}},
		{"kuma per-pod injection", with(kumaStrict, "podip-kuma-pod-injection.yaml"), "MG001", 1, SeverityError,
			[]string{"is not labelled kuma.io/sidecar-injection"}},
		{"kuma mesh not in inputs", []string{"podip-kuma-pod-injection.yaml"}, "MG001", 1, SeverityWarning, []string{"not in the inputs"}},
		{"near miss: kuma adds the annotation", with(kumaStrict, "podip-kuma-auto.yaml"), "MG001", 0, "", nil},
		{"near miss: explicit service-upstream", with(kumaStrict, "podip-kuma-service-upstream.yaml"), "MG001", 0, "", nil},
		{"istio namespace STRICT", with(istioStrict, "kong-ingress.yaml"), "MG001", 1, SeverityError, []string{"PeerAuthentication shop/default sets STRICT"}},
		{"istio mesh-wide STRICT", []string{"istio-shop.yaml", "istio-mesh-strict.yaml", "kong-ingress.yaml"}, "MG001", 1, SeverityError, nil},
		{"istio STRICT via Kong HTTPRoute", with(istioStrict, "kong-httproute.yaml"), "MG001", 1, SeverityError, []string{"HTTPRoute/shop/echo"}},
		{"near miss: workload PERMISSIVE", with(istioStrict, "istio-workload-permissive.yaml", "kong-ingress.yaml"), "MG001", 0, "", nil},
		{"near miss: PERMISSIVE", with(istioPerm, "kong-ingress.yaml"), "MG001", 0, "", nil},
		{"near miss: Istio's own Gateway", with(istioStrict, "istio-httproute.yaml"), "MG001", 0, "", nil},
		{"Pod IPs with a Host Istio does not know", with(istioStrict, "kong-ingress.yaml", "host-header-other.yaml"), "MG001", 1, SeverityError,
			[]string{"konghq.com/host-header: echo.shop.svc.cluster.local"}},
		{"Pod IPs, host-header while KIC preserves the client's Host", with(istioStrict, "kong-ingress.yaml", "host-header-only.yaml"), "MG001", 1, SeverityError,
			[]string{"konghq.com/host-header: echo.shop.svc.cluster.local", `konghq.com/preserve-host: "false" on Ingress/shop/echo`}},
		{"Pod IPs, preserve-host false alone: Kong sends the Pod IP", with(istioStrict, "kong-ingress-no-preserve-host.yaml"), "MG001", 1, SeverityError,
			[]string{"konghq.com/host-header: echo.shop.svc.cluster.local"}},
		{"near miss: Pod IPs with the Service's Host (Istio routes by Host)", with(istioStrict, "kong-ingress-no-preserve-host.yaml", "host-header-only.yaml"), "MG001", 0, "", nil},
		{"near miss: HTTPRoute, Pod IPs with the Service's Host", with(istioStrict, "kong-httproute-no-preserve-host.yaml", "host-header-only.yaml"), "MG001", 0, "", nil},
		{"near miss: nginx Ingress", with(istioStrict, "nginx-ingress.yaml"), "MG001", 0, "", nil},
		{"near miss: service-upstream fix", istioFixed, "MG001", 0, "", nil},

		{"relies on auto-annotation", with(kumaStrict, "podip-kuma-auto.yaml"), "MG002", 1, SeverityInfo, []string{"Kuma's service controller adds it"}},
		{"near miss: kuma.io/ignore is MG001's", with(kumaStrict, "podip-kuma-ignore.yaml"), "MG002", 0, "", nil},
		{"near miss: stated in the manifest", with(kumaStrict, "podip-kuma-service-upstream.yaml"), "MG002", 0, "", nil},

		{"seed .svc.mesh.local bridge", []string{"bridge-seed-mesh-local.yaml"}, "MG003", 1, SeverityError,
			[]string{"Service/kong-air-production/check-in-mesh-bridge", "check-in-api.kong-air-production.svc.8080.mesh"}},
		{"malformed .mesh name", []string{"bridge-bad-form.yaml"}, "MG003", 1, SeverityError, nil},
		{"near miss: dotted mesh name", []string{"bridge-good.yaml"}, "MG003", 0, "", nil},
		{"near miss: underscore mesh name", []string{"bridge-good-underscore.yaml"}, "MG003", 0, "", nil},
		{"near miss: cluster.local bridge", []string{"bridge-cluster-local.yaml"}, "MG003", 0, "", nil},

		{"bridge to a missing port", []string{"bridge-wrong-port.yaml"}, "MG004", 1, SeverityError, []string{"no port 9090", "echo.shop.svc.8080.mesh"}},
		{"bridge to a missing Service", []string{"bridge-missing-service.yaml"}, "MG004", 1, SeverityError, []string{"no Service shop/nope"}},
		{"near miss: namespace not in inputs", []string{"bridge-unknown-namespace.yaml"}, "MG004", 0, "", nil},
		{"near miss: existing Service and port", []string{"bridge-good.yaml"}, "MG004", 0, "", nil},

		{"bridge routed on 8080", []string{"bridge-route-8080.yaml"}, "MG005", 1, SeverityError, []string{"port 8080", "Ingress/shop/echo"}},
		{"near miss: bridge routed on 80", []string{"bridge-good.yaml"}, "MG005", 0, "", nil},
		{"near miss: not a .mesh bridge", []string{"bridge-cluster-local.yaml"}, "MG005", 0, "", nil},

		{"kong in kuma without gateway annotation", []string{"kong-kuma-no-gateway.yaml"}, "MG006", 1, SeverityError,
			[]string{"Deployment/kong/kong-gateway", "kuma.io/gateway: enabled"}},
		{"Kong as a DaemonSet", []string{"kong-kuma-daemonset.yaml"}, "MG006", 1, SeverityError, []string{"DaemonSet/kong/kong-gateway"}},
		{"near miss: annotated", []string{"kong-kuma-gateway.yaml"}, "MG006", 0, "", nil},
		{"near miss: controller only", []string{"kong-kuma-controller-only.yaml"}, "MG006", 0, "", nil},
		{"near miss: not in the mesh", []string{"kong-kuma-unmeshed.yaml"}, "MG006", 0, "", nil},

		{"kong without istio sidecar", with(istioFixed, "kong-istio-uninjected.yaml"), "MG007", 1, SeverityError,
			[]string{"Deployment/kong/kong-gateway", "Service/shop/echo", "istio-injection=enabled"}},
		{"kong opted out of injection", with(istioFixed, "kong-istio-optout.yaml"), "MG007", 1, SeverityError, nil},
		{"kong outside a STRICT Kuma mesh", with(kumaStrict, "podip-kuma-service-upstream.yaml", "kong-kuma-unmeshed.yaml"), "MG007", 1, SeverityError,
			[]string{"Deployment/kong/kong-gateway", "kuma.io/sidecar-injection: enabled"}},
		{"near miss: kong in the Kuma mesh", with(kumaStrict, "podip-kuma-service-upstream.yaml", "kong-kuma-gateway.yaml"), "MG007", 0, "", nil},
		{"near miss: kong injected", with(istioFixed, "kong-istio-injected.yaml"), "MG007", 0, "", nil},
		{"near miss: backends PERMISSIVE", with(istioPerm, "kong-ingress.yaml", "kong-istio-uninjected.yaml"), "MG007", 0, "", nil},

		{"mTLS mesh without permission", []string{"mesh-no-mtp.yaml"}, "MG008", 1, SeverityError, []string{`Mesh "default"`, "kuma.io/mesh: default"}},
		{"permission for another mesh", []string{"mesh-no-mtp.yaml", "mesh-mtp-other.yaml"}, "MG008", 1, SeverityError, nil},
		{"near miss: allow-all present", kumaStrict, "MG008", 0, "", nil},
		{"near miss: legacy TrafficPermission", []string{"mesh-no-mtp.yaml", "legacy-traffic-permission.yaml"}, "MG008", 0, "", nil},
		{"near miss: mTLS off", []string{"mesh-no-mtls.yaml"}, "MG008", 0, "", nil},

		{"RequestAuthentication alone", []string{"istio-shop.yaml", "ra-echo.yaml"}, "MG009", 1, SeverityWarning,
			[]string{"RequestAuthentication/shop/jwt", "requests without a token pass", "https://issuer.example/*"}},
		{"policy by namespace only", []string{"istio-shop.yaml", "ra-echo.yaml", "ap-namespaces.yaml"}, "MG009", 1, SeverityWarning, nil},
		{"policy for another workload", []string{"istio-shop.yaml", "ra-echo.yaml", "ap-other-workload.yaml"}, "MG009", 1, SeverityWarning, nil},
		{"near miss: requestPrincipals", []string{"istio-shop.yaml", "ra-echo.yaml", "ap-principals.yaml"}, "MG009", 0, "", nil},
		{"near miss: claim condition", []string{"istio-shop.yaml", "ra-echo.yaml", "ap-claims.yaml"}, "MG009", 0, "", nil},

		{"issuer differs by a trailing slash", with(istioFixed, "ra-echo.yaml", "kong-jwt-trailing-slash.yaml"), "MG010", 1, SeverityError,
			[]string{`"https://issuer.example/"`, "KongPlugin/shop/jwt-auth", "RequestAuthentication/shop/jwt"}},
		{"issuer from a base64 credential on the Service's plugin", with(istioStrict, "ra-echo.yaml", "kong-jwt-base64.yaml"), "MG010", 1, SeverityError,
			[]string{"https://other.example"}},
		{"KongClusterPlugin", with(istioFixed, "ra-echo.yaml", "kong-jwt-cluster-plugin.yaml"), "MG010", 1, SeverityError, []string{"KongClusterPlugin/jwt-auth"}},
		{"audience differs", with(istioFixed, "ra-echo.yaml", "kong-oidc-aud-mismatch.yaml"), "MG010", 1, SeverityError, []string{"audience"}},
		{"near miss: same issuer", with(istioFixed, "ra-echo.yaml", "kong-jwt-same-issuer.yaml"), "MG010", 0, "", nil},
		{"near miss: issuer only in a kongCredType Secret (KIC ignores it)", with(istioStrict, "service-upstream.yaml", "ra-echo.yaml", "kong-jwt-credtype.yaml"), "MG010", 0, "", nil},
		{"near miss: same audience", with(istioFixed, "ra-echo.yaml", "kong-oidc-aud-match.yaml"), "MG010", 0, "", nil},

		{"DestinationRule DISABLE", with(istioStrict, "dr-disable.yaml"), "MG011", 1, SeverityError, []string{"DestinationRule/shop/echo", "plaintext", "ISTIO_MUTUAL"}},
		{"DestinationRule SIMPLE", with(istioStrict, "dr-simple.yaml"), "MG011", 1, SeverityError, []string{"without a client certificate"}},
		{"port-level DISABLE, short host", with(istioStrict, "dr-port-level-short-host.yaml"), "MG011", 1, SeverityError, nil},
		{"near miss: ISTIO_MUTUAL", with(istioStrict, "dr-istio-mutual.yaml"), "MG011", 0, "", nil},
		{"near miss: PERMISSIVE backend", with(istioPerm, "dr-disable.yaml"), "MG011", 0, "", nil},

		{"PeerAuthentication PERMISSIVE", with(istioPerm, "kong-ingress.yaml"), "MG012", 1, SeverityWarning, []string{"Ingress/shop/echo", "accepts plaintext"}},
		{"workload PERMISSIVE under STRICT", with(istioStrict, "istio-workload-permissive.yaml", "kong-ingress.yaml"), "MG012", 1, SeverityWarning, nil},
		{"Kuma MeshTLS Permissive", with(kumaStrict, "meshtls-permissive.yaml", "podip-kuma-auto.yaml"), "MG012", 1, SeverityWarning, []string{"MeshTLS"}},
		{"Kuma Mesh backend PERMISSIVE", []string{"mesh-permissive.yaml", "podip-kuma-auto.yaml"}, "MG012", 1, SeverityWarning, nil},
		{"near miss: Istio default, no policy", []string{"istio-shop.yaml", "kong-ingress.yaml"}, "MG012", 0, "", nil},
		{"near miss: STRICT", with(istioStrict, "kong-ingress.yaml"), "MG012", 0, "", nil},

		{"Kong default retries and mesh retries", with(istioFixed, "vs-retries-3x2s.yaml"), "MG013", 1, SeverityWarning,
			[]string{"up to 24 requests", "(1+5)×(1+3)", "VirtualService/shop/echo"}},
		{"Kong retries 2", with(istioFixed, "kong-retries-2-timeout-5s.yaml", "vs-retries-3x2s.yaml"), "MG013", 1, SeverityWarning, []string{"up to 12 requests"}},
		{"KongIngress retries", with(istioFixed, "kong-kongingress-timeout.yaml", "vs-retries-3x2s.yaml"), "MG013", 1, SeverityWarning, []string{"(1+1)×(1+3)", "KongIngress/shop/slow"}},
		{"Kuma MeshRetry", with(kumaStrict, "podip-kuma-service-upstream.yaml", "meshretry.yaml"), "MG013", 1, SeverityWarning,
			[]string{"(1+5)×(1+3)", "MeshRetry/kuma-system/retry-all"}},
		{"near miss: MeshRetry of another mesh", with(kumaStrict, "podip-kuma-service-upstream.yaml", "meshretry-other-mesh.yaml"), "MG013", 0, "", nil},
		{"near miss: Kong retries 0", with(istioFixed, "kong-retries-0.yaml", "vs-retries-3x2s.yaml"), "MG013", 0, "", nil},
		{"near miss: mesh retries 0", with(istioFixed, "vs-retries-0.yaml"), "MG013", 0, "", nil},
		{"near miss: VirtualService bound to a gateway only", with(istioFixed, "vs-retries-gateway-only.yaml"), "MG013", 0, "", nil},

		{"Kong read timeout 5s vs 4×2s", with(istioFixed, "kong-retries-2-timeout-5s.yaml", "vs-retries-3x2s.yaml"), "MG014", 1, SeverityWarning,
			[]string{"5000 ms", "= 8s", "above 8000 ms"}},
		{"KongIngress read timeout 3s", with(istioFixed, "kong-kongingress-timeout.yaml", "vs-retries-3x2s.yaml"), "MG014", 1, SeverityWarning, []string{"3000 ms"}},
		{"near miss: Kong 10s", with(istioFixed, "kong-timeout-10s.yaml", "vs-retries-3x2s.yaml"), "MG014", 0, "", nil},
		{"near miss: Kong default 60s", with(istioFixed, "vs-retries-3x2s.yaml"), "MG014", 0, "", nil},

		{"service-upstream without host-header, STRICT", with(istioStrict, "kong-ingress.yaml", "service-upstream-no-host.yaml"), "MG015", 1, SeverityError,
			[]string{"konghq.com/host-header: echo.shop.svc.cluster.local", "passes the request through as plaintext"}},
		{"service-upstream without host-header, PERMISSIVE", with(istioPerm, "kong-ingress.yaml", "service-upstream-no-host.yaml"), "MG015", 1, SeverityWarning,
			[]string{"silently unencrypted"}},
		{"near miss: host-header set", istioFixed, "MG015", 0, "", nil},
		{"host-header naming something else", with(istioStrict, "kong-ingress-no-preserve-host.yaml", "service-upstream-other-host.yaml"), "MG015", 1, SeverityError,
			[]string{"Host: api.example.com"}},
		{"host-header alone: KIC preserves the client's Host", with(istioStrict, "kong-ingress.yaml", "service-upstream.yaml"), "MG015", 1, SeverityError,
			[]string{"ignores konghq.com/host-header", `konghq.com/preserve-host: "false" on Ingress/shop/echo`, "konghq.com/host-header: echo.shop.svc.cluster.local"}},
		{"host-header alone on an HTTPRoute", with(istioStrict, "kong-httproute.yaml", "service-upstream.yaml"), "MG015", 1, SeverityError,
			[]string{"HTTPRoute/shop/echo", "preserve_host=true"}},
		{"near miss: HTTPRoute with both", with(istioStrict, "kong-httproute-no-preserve-host.yaml", "service-upstream.yaml"), "MG015", 0, "", nil},
		// Kong then sends the target's name, <svc>.<ns>.svc:<port>, which Istio knows.
		{"near miss: preserve-host false with service-upstream", with(istioStrict, "kong-ingress-no-preserve-host.yaml", "service-upstream-no-host.yaml"), "MG015", 0, "", nil},
		{"near miss: Kong outside Istio (MG007's)", with(istioStrict, "kong-ingress.yaml", "service-upstream-no-host.yaml", "kong-istio-uninjected.yaml"), "MG015", 0, "", nil},
		{"near miss: Kuma backend", with(kumaStrict, "podip-kuma-service-upstream.yaml"), "MG015", 0, "", nil},

		{"ambient: Pod IPs skip the service waypoint", with(ambientShop, "ambient-waypoint.yaml", "kong-ingress.yaml"), "MG016", 1, SeverityError,
			[]string{"Ingress/shop/echo", "waypoint shop/waypoint", "label on Namespace shop", "waypoint-for service", "service-upstream: \"true\""}},
		{"ambient: waypoint Gateway not in the inputs", with(ambientShop, "kong-ingress.yaml"), "MG016", 1, SeverityWarning,
			[]string{"Gateway is not in the inputs", "default istio.io/waypoint-for is service"}},
		{"near miss: service-upstream sends Service-addressed traffic", with(ambientShop, "ambient-waypoint.yaml", "kong-ingress.yaml", "service-upstream.yaml"), "MG016", 0, "", nil},
		{"near miss: waypoint for all traffic", with(ambientShop, "ambient-waypoint-all.yaml", "kong-ingress.yaml"), "MG016", 0, "", nil},
		{"near miss: Service opts out of the waypoint", with(ambientShop, "ambient-waypoint.yaml", "kong-ingress.yaml", "ambient-service-no-waypoint.yaml"), "MG016", 0, "", nil},
		{"near miss: sidecar mode", with(istioStrict, "kong-ingress.yaml"), "MG016", 0, "", nil},

		{"pod label in an unlabelled namespace", []string{"kuma-pod-label-unlabelled-ns.yaml"}, "MG018", 1, SeverityError,
			[]string{"Deployment/shop/echo", "namespace shop has no kuma.io/sidecar-injection", "label namespace shop kuma.io/sidecar-injection: disabled"}},
		{"near miss: namespace labelled disabled, pod opts in", []string{"podip-kuma-pod-injection.yaml"}, "MG018", 0, "", nil},
		{"near miss: namespace labelled enabled", with(kumaStrict, "podip-kuma-auto.yaml"), "MG018", 0, "", nil},
		{"near miss: namespace not in the inputs", []string{"kuma-pod-label-only.yaml"}, "MG018", 0, "", nil},
		{"no MG001 where no sidecar is injected", with(kumaStrict, "kuma-pod-label-unlabelled-ns.yaml"), "MG001", 0, "", nil},
		{"credential typed by kongCredType", []string{"kong-jwt-credtype.yaml"}, "MG017", 1, SeverityError,
			[]string{"Secret/shop/bob-jwt", "KongConsumer/shop/bob", "removed in 3.2.0", "label it konghq.com/credential: jwt"}},
		{"near miss: labelled, kongCredType left behind", []string{"kong-jwt-credtype-labelled.yaml"}, "MG017", 0, "", nil},
	}
	covered := map[string][2]bool{}
	for _, tc := range tests {
		t.Run(tc.rule+"/"+tc.name, func(t *testing.T) {
			got := byRule(Run(loadCase(t, tc.files...)), tc.rule)
			if len(got) != tc.want {
				t.Fatalf("%s on %v: got %d findings, want %d:\n%s", tc.rule, tc.files, len(got), tc.want, describe(got))
			}
			for _, f := range got {
				if f.Severity != tc.sev {
					t.Errorf("severity %s, want %s: %s", f.Severity, tc.sev, f.Message)
				}
				for _, s := range tc.msg {
					if !strings.Contains(f.Message, s) {
						t.Errorf("message lacks %q:\n%s", s, f.Message)
					}
				}
				if f.Fact == "" || f.Object.File == "" || f.Object.Line < 1 {
					t.Errorf("finding without fact or location: %+v", f)
				}
			}
		})
		c := covered[tc.rule]
		c[min(tc.want, 1)] = true
		covered[tc.rule] = c
	}
	for _, r := range Rules() {
		if c := covered[r.ID]; !c[0] || !c[1] {
			t.Errorf("rule %s needs both a triggering case and a near miss (have miss=%v hit=%v)", r.ID, c[0], c[1])
		}
	}
}

func describe(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.Object.Where() + " " + f.RuleID + " " + f.Message + "\n")
	}
	return b.String()
}

func TestRuleIDsStableAndDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		if seen[r.ID] || !strings.HasPrefix(r.ID, "MG") || len(r.ID) != 5 {
			t.Errorf("rule ID %q duplicated or not MGnnn", r.ID)
		}
		seen[r.ID] = true
		if r.Title == "" || r.Help == "" || r.Fact == "" || r.Severity.rank() == 0 {
			t.Errorf("rule %s lacks title, help, fact or severity", r.ID)
		}
	}
}

func BenchmarkRun(b *testing.B) {
	objs, err := LoadPaths([]string{filepath.Join("testdata", "live", "topology.yaml")}, nil)
	if err != nil {
		b.Fatal(err)
	}
	m := NewModel(objs)
	b.ReportAllocs()
	for b.Loop() {
		if len(Run(m)) == 0 {
			b.Fatal("no findings")
		}
	}
}

func TestDefaultNamespace(t *testing.T) {
	objs, err := Parse("helm.yaml", []byte(`apiVersion: v1
kind: Service
metadata: {name: echo}
spec: {selector: {app: echo}, ports: [{port: 8080}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: echo}
spec: {ingressClassName: kong, defaultBackend: {service: {name: echo, port: {number: 8080}}}}
---
apiVersion: kuma.io/v1alpha1
kind: Mesh
metadata: {name: default}
`))
	if err != nil {
		t.Fatal(err)
	}
	DefaultNamespace(objs, "shop")
	got := []string{objs[0].Ref().String(), objs[1].Ref().String(), objs[2].Ref().String()}
	want := []string{"Service/shop/echo", "Ingress/shop/echo", "Mesh/default"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got %v, want %v", got, want)
	}
	o2, _ := Parse("x.yaml", []byte("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"))
	DefaultNamespace(o2, "")
	if o2[0].Namespace != "default" {
		t.Fatalf("no -n: got namespace %q, want default", o2[0].Namespace)
	}
}
