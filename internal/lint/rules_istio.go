package lint

import (
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strings"
)

const (
	factTokenOptional = "RequestAuthentication alone does not require a token: requests without one pass; an AuthorizationPolicy with " +
		"requestPrincipals makes it required [istio.io/api security/v1beta1/request_authentication.proto]"
	factJWTIssuer = "Kong's jwt plugin matches the token's iss (key_claim_name) against a KongConsumer's jwt credential key; Istio's " +
		"RequestAuthentication rejects tokens whose issuer or audiences its jwtRules do not list [istio.io/api security/v1beta1/request_authentication.proto; Kong jwt " +
		"plugin docs]"
	factDRTLS = "DestinationRule tls.mode DISABLE: no TLS to the upstream; SIMPLE: TLS without a client certificate; ISTIO_MUTUAL is Istio " +
		"mTLS [istio.io/api networking/v1alpha3/destination_rule.proto]; a STRICT PeerAuthentication accepts only mTLS [istio.io/api security/v1beta1/peer_authentication.proto]"
	factPermissive = "PERMISSIVE accepts TLS and plaintext [istio.io/api peer_authentication.proto; kumahq/kuma api/mesh/v1alpha1/mesh.proto]; the Pod-IP bug passes silently under PERMISSIVE, so " +
		"the boundary is unencrypted without any error"
)

// raTargets reports whether a RequestAuthentication (or AuthorizationPolicy)
// applies to a workload with labels in ns.
func (m *Model) policyApplies(p *Object, ns string, labels map[string]string) bool {
	sel := strMap(p.Content, "spec", "selector", "matchLabels")
	switch {
	case p.Namespace == ns:
		return len(sel) == 0 || selects(sel, labels)
	case p.Namespace == m.IstioRootNamespace:
		return len(sel) == 0
	}
	return false
}

// MG009: RequestAuthentication without a policy that requires a token.
func ruleTokenOptional() Rule {
	return Rule{
		ID: "MG009", Severity: SeverityWarning,
		Title: "RequestAuthentication without an AuthorizationPolicy requiring a request principal",
		Help: "RequestAuthentication rejects invalid tokens only; a request with no token passes unless an AuthorizationPolicy " +
			"requires requestPrincipals (or a request.auth claim).",
		Fact:  factTokenOptional,
		check: checkTokenOptional,
	}
}

func checkTokenOptional(m *Model, r Rule) []Finding {
	var out []Finding
	for _, ra := range m.All(kRequestAuth) {
		sel := strMap(ra.Content, "spec", "selector", "matchLabels")
		required := false
		for _, ap := range m.All(kAuthzPolicy) {
			if requiresPrincipal(ap) && (m.policyApplies(ap, ra.Namespace, sel) || (len(sel) == 0 && ap.Namespace == ra.Namespace &&
				len(strMap(ap.Content, "spec", "selector", "matchLabels")) == 0)) {
				required = true
				break
			}
		}
		if required {
			continue
		}
		scope := "every workload in namespace " + ra.Namespace
		if ra.Namespace == m.IstioRootNamespace {
			scope = "every workload in the mesh"
		}
		if len(sel) > 0 {
			scope = "workloads labelled " + labelString(sel)
		}
		msg := fmt.Sprintf("%s validates JWTs for %s, but no AuthorizationPolicy there requires a request "+
			"principal: requests without a token pass, only invalid tokens are rejected, so anything that bypasses Kong reaches the "+
			"backend unauthenticated. Fix: add an AuthorizationPolicy (action ALLOW) with the same selector and rules[].from[].source."+
			"requestPrincipals: [\"%s/*\"].", ra.Ref(), scope, firstIssuer(ra))
		out = append(out, r.finding(SeverityWarning, ra, msg))
	}
	return out
}

func requiresPrincipal(ap *Object) bool {
	action := strings.ToUpper(str(ap.Content, "spec", "action"))
	for _, rule := range list(ap.Content, "spec", "rules") {
		for _, from := range list(rule, "from") {
			switch {
			case (action == "" || action == "ALLOW") && len(list(from, "source", "requestPrincipals")) > 0:
				return true
			case action == "DENY" && len(list(from, "source", "notRequestPrincipals")) > 0:
				return true
			}
		}
		if action == "" || action == "ALLOW" {
			for _, w := range list(rule, "when") {
				if strings.HasPrefix(str(w, "key"), "request.auth.") {
					return true
				}
			}
		}
	}
	return false
}

func firstIssuer(ra *Object) string {
	for _, rule := range list(ra.Content, "spec", "jwtRules") {
		if iss := str(rule, "issuer"); iss != "" {
			return iss
		}
	}
	return "<issuer>"
}

func labelString(l map[string]string) string {
	var s []string
	for k, v := range l {
		s = append(s, k+"="+v)
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

// MG010: Kong's JWT issuer/audience differs from the mesh's.
func ruleJWTMismatch() Rule {
	return Rule{
		ID: "MG010", Severity: SeverityError,
		Title: "Kong's JWT issuer or audience differs from the mesh's RequestAuthentication",
		Help: "Kong accepts a token, the backend's sidecar rejects it (401 Jwt issuer is not configured / Audiences in Jwt are not " +
			"allowed). Compared exactly, as both sides do.",
		Fact:  factJWTIssuer,
		check: checkJWTMismatch,
	}
}

type kongJWT struct {
	plugin    *Object
	sources   []*Object
	issuers   []string
	audiences []string
}

func checkJWTMismatch(m *Model, r Rule) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, rt := range m.kongRoutes() {
		svc := m.Get(kService, rt.SvcNS, rt.SvcName)
		if svc == nil {
			continue
		}
		refs := append(slices.Clone(rt.PluginRefs), splitList(svc.Annotations[annKongPlugins])...)
		w := m.workloadOf(svc)
		for _, ref := range refs {
			kj := m.kongJWTConfig(rt.Obj.Namespace, ref)
			if kj == nil || len(kj.issuers) == 0 {
				continue
			}
			for _, ra := range m.All(kRequestAuth) {
				if !m.policyApplies(ra, svc.Namespace, w.Labels) {
					continue
				}
				key := kj.plugin.Ref().String() + ra.Ref().String() + svc.Ref().String()
				if seen[key] {
					continue
				}
				seen[key] = true
				if f, ok := compareJWT(r, rt, svc, kj, ra); ok {
					out = append(out, f)
				}
			}
		}
	}
	return out
}

func compareJWT(r Rule, rt route, svc *Object, kj *kongJWT, ra *Object) (Finding, bool) {
	var raIssuers []string
	auds := map[string][]string{}
	for _, rule := range list(ra.Content, "spec", "jwtRules") {
		iss := str(rule, "issuer")
		raIssuers = append(raIssuers, iss)
		for _, a := range list(rule, "audiences") {
			auds[iss] = append(auds[iss], fmt.Sprint(a))
		}
	}
	var common []string
	for _, iss := range kj.issuers {
		if slices.Contains(raIssuers, iss) {
			common = append(common, iss)
		}
	}
	related := append([]*Object{kj.plugin, ra, svc}, kj.sources...)
	if len(common) == 0 {
		msg := fmt.Sprintf("%s sends requests for %s through %s, which accepts tokens from issuer(s) %q, but "+
			"%s on the backend accepts only %q: every token Kong lets through is rejected by the sidecar (401). "+
			"Fix: make the issuer identical on both sides (exact string, including any trailing slash).",
			rt.Obj.Ref(), svc.Ref(), kj.plugin.Ref(), kj.issuers, ra.Ref(), raIssuers)
		return r.finding(SeverityError, rt.Obj, msg, related...), true
	}
	for _, iss := range common {
		want := auds[iss]
		if len(want) == 0 || len(kj.audiences) == 0 {
			continue
		}
		overlap := false
		for _, a := range kj.audiences {
			overlap = overlap || slices.Contains(want, a)
		}
		if !overlap {
			msg := fmt.Sprintf("%s: %s requires audience(s) %q for issuer %q, but %s on backend "+
				"%s allows only %q: tokens Kong accepts are rejected by the sidecar (401 Audiences in Jwt are not allowed). "+
				"Fix: align the audiences on both sides.", rt.Obj.Ref(), kj.plugin.Ref(), kj.audiences, iss, ra.Ref(), svc.Ref(), want)
			return r.finding(SeverityError, rt.Obj, msg, related...), true
		}
	}
	return Finding{}, false
}

// kongJWTConfig reads a KongPlugin's accepted issuers: the jwt plugin's
// consumer credential keys (when key_claim_name is iss) or openid-connect's
// issuer and audience.
func (m *Model) kongJWTConfig(ns, name string) *kongJWT {
	p := m.Get(kKongPlugin, ns, name)
	if p == nil {
		p = m.Get(kKongClusterPlugin, "", name)
	}
	if p == nil {
		return nil
	}
	kj := &kongJWT{plugin: p}
	switch str(p.Content, "plugin") {
	case "jwt":
		if c := str(p.Content, "config", "key_claim_name"); c != "" && c != "iss" {
			return nil
		}
		for _, c := range m.All(kKongConsumer) {
			for _, cred := range list(c.Content, "credentials") {
				sec := m.Get(kSecret, c.Namespace, fmt.Sprint(cred))
				if sec == nil || !isJWTCredential(sec) {
					continue
				}
				if key := secretValue(sec, "key"); key != "" && !slices.Contains(kj.issuers, key) {
					kj.issuers = append(kj.issuers, key)
					kj.sources = append(kj.sources, c, sec)
				}
			}
		}
	case "openid-connect":
		iss := strings.TrimSuffix(str(p.Content, "config", "issuer"), "/.well-known/openid-configuration")
		if iss != "" {
			kj.issuers = []string{iss}
		}
		for _, a := range append(list(p.Content, "config", "audience_required"), list(p.Content, "config", "audience")...) {
			kj.audiences = append(kj.audiences, fmt.Sprint(a))
		}
	default:
		return nil
	}
	sort.Strings(kj.issuers)
	return kj
}

// isJWTCredential reads only the label: KIC 3.2.0 removed the kongCredType
// Secret field (KIC v3.5.13 CHANGELOG.md, 3.2.0 "Breaking changes"), so a
// Secret that names its type only there is no credential to the controller.
func isJWTCredential(sec *Object) bool {
	return sec.Labels[labelKongCredential] == "jwt"
}

const (
	labelKongCredential = "konghq.com/credential"
	fieldKongCredType   = "kongCredType"
	factKongCredType    = "KIC 3.2.0 removed support for the deprecated kongCredType Secret field; credentials are recognised only by the " +
		"konghq.com/credential label [Kong/kubernetes-ingress-controller CHANGELOG.md, 3.2.0 Breaking changes]"
)

// MG017: a credential Secret KIC >= 3.2 ignores.
func ruleKongCredType() Rule {
	return Rule{
		ID: "MG017", Severity: SeverityError,
		Title: "Kong credential Secret typed by kongCredType, which KIC 3.2 and later ignore",
		Help: "KIC stopped reading the kongCredType field in 3.2.0: such a Secret gives its KongConsumer no credential, so Kong " +
			"refuses the consumer's tokens or keys. The konghq.com/credential label replaces it.",
		Fact:     factKongCredType,
		FileOnly: true,
		check:    checkKongCredType,
	}
}

func checkKongCredType(m *Model, r Rule) []Finding {
	var out []Finding
	for _, sec := range m.All(kSecret) {
		typ := secretValue(sec, fieldKongCredType)
		if typ == "" || sec.Labels[labelKongCredential] != "" {
			continue
		}
		users := m.consumersOf(sec)
		used := "no KongConsumer in the inputs lists it"
		if len(users) > 0 {
			var names []string
			for _, c := range users {
				names = append(names, c.Ref().String())
			}
			used = strings.Join(names, ", ") + " lists it in credentials and gets no " + typ + " credential"
		}
		msg := fmt.Sprintf("%s declares kongCredType: %s, a field KIC removed in 3.2.0 (this project pins KIC 3.5): the controller "+
			"does not treat it as a credential (%s). Fix: label it %s: %s and remove kongCredType.", sec.Ref(), typ, used, labelKongCredential, typ)
		out = append(out, r.finding(SeverityError, sec, msg, users...))
	}
	return out
}

// consumersOf lists the KongConsumers whose credentials name sec.
func (m *Model) consumersOf(sec *Object) []*Object {
	var out []*Object
	for _, c := range m.All(kKongConsumer) {
		if c.Namespace != sec.Namespace {
			continue
		}
		for _, cred := range list(c.Content, "credentials") {
			if fmt.Sprint(cred) == sec.Name {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

func secretValue(sec *Object, key string) string {
	if v := str(sec.Content, "stringData", key); v != "" {
		return v
	}
	if v := str(sec.Content, "data", key); v != "" {
		if b, err := base64.StdEncoding.DecodeString(v); err == nil {
			return string(b)
		}
	}
	return ""
}

// MG011: DestinationRule DISABLE/SIMPLE toward STRICT.
func ruleDestinationRuleTLS() Rule {
	return Rule{
		ID: "MG011", Severity: SeverityError,
		Title: "DestinationRule with TLS mode DISABLE or SIMPLE toward a STRICT backend",
		Help:  "The client sidecar sends plaintext (DISABLE) or one-way TLS (SIMPLE); the STRICT backend sidecar requires Istio mTLS.",
		Fact:  factDRTLS,
		check: checkDestinationRuleTLS,
	}
}

func checkDestinationRuleTLS(m *Model, r Rule) []Finding {
	var out []Finding
	for _, dr := range m.All(kDestRule) {
		modes := drTLSModes(dr)
		if len(modes) == 0 {
			continue
		}
		for _, svc := range m.servicesForHost(dr.Namespace, str(dr.Content, "spec", "host")) {
			t := m.backendMTLS(svc)
			if t.Mesh != MeshIstio || !t.strict() {
				continue
			}
			msg := fmt.Sprintf("%s sets tls.mode %s toward %s, whose pods are STRICT (%s): clients send %s "+
				"instead of Istio mTLS and the backend sidecar resets the connection (503 upstream connect error). Fix: use tls.mode "+
				"ISTIO_MUTUAL or drop the tls block (auto mTLS).", dr.Ref(), strings.Join(modes, "/"), svc.Ref(), t.Detail, drWhat(modes))
			out = append(out, r.finding(SeverityError, dr, msg, svc, t.Policy))
		}
	}
	return out
}

func drTLSModes(dr *Object) []string {
	var modes []string
	add := func(tp any) {
		if mode := strings.ToUpper(str(tp, "tls", "mode")); (mode == "DISABLE" || mode == "SIMPLE") && !slices.Contains(modes, mode) {
			modes = append(modes, mode)
		}
		for _, pl := range list(tp, "portLevelSettings") {
			if mode := strings.ToUpper(str(pl, "tls", "mode")); (mode == "DISABLE" || mode == "SIMPLE") && !slices.Contains(modes, mode) {
				modes = append(modes, mode)
			}
		}
	}
	add(field(dr.Content, "spec", "trafficPolicy"))
	for _, s := range list(dr.Content, "spec", "subsets") {
		add(field(s, "trafficPolicy"))
	}
	sort.Strings(modes)
	return modes
}

func drWhat(modes []string) string {
	if slices.Contains(modes, "DISABLE") {
		return "plaintext"
	}
	return "TLS without a client certificate"
}

// servicesForHost resolves an Istio host (short name relative to ns, name.ns,
// name.ns.svc, FQDN, or *.ns.svc.cluster.local) to Services in the model.
func (m *Model) servicesForHost(ns, host string) []*Object {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	host = strings.TrimSuffix(host, ".cluster.local")
	parts := strings.Split(host, ".")
	if len(parts) == 3 && parts[2] == "svc" {
		parts = parts[:2]
	}
	switch {
	case len(parts) == 1 && parts[0] != "*":
		if s := m.Get(kService, ns, parts[0]); s != nil {
			return []*Object{s}
		}
	case len(parts) == 2 && parts[0] == "*":
		var out []*Object
		for _, s := range m.All(kService) {
			if s.Namespace == parts[1] {
				out = append(out, s)
			}
		}
		return out
	case len(parts) == 2:
		if s := m.Get(kService, parts[1], parts[0]); s != nil {
			return []*Object{s}
		}
	}
	return nil
}

// MG012: PERMISSIVE on a backend Kong serves.
func rulePermissive() Rule {
	return Rule{
		ID: "MG012", Severity: SeverityWarning,
		Title: "PERMISSIVE mTLS on a backend the gateway serves",
		Help: "PERMISSIVE accepts plaintext, so Kong reaching the backend by Pod IP (or from outside the mesh) works without mTLS and " +
			"nothing reports it.",
		Fact:  factPermissive,
		check: checkPermissive,
	}
}

func checkPermissive(m *Model, r Rule) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, rt := range m.kongRoutes() {
		svc := m.Get(kService, rt.SvcNS, rt.SvcName)
		if svc == nil {
			continue
		}
		if name, ns, _, ok := parseMeshHost(str(svc.Content, "spec", "externalName")); ok {
			if target := m.Get(kService, ns, name); target != nil {
				svc = target
			}
		}
		t := m.backendMTLS(svc)
		if t.Mode != "PERMISSIVE" || t.Policy == nil || seen[svc.Ref().String()+t.Policy.Ref().String()] {
			continue
		}
		seen[svc.Ref().String()+t.Policy.Ref().String()] = true
		msg := fmt.Sprintf("%s serves %s, and %s: the backend accepts plaintext, so a gateway that reaches it by Pod IP or from "+
			"outside the mesh works without mTLS and nothing reports it. Fix: once Kong's route uses service-upstream or a mesh bridge "+
			"and Kong has a sidecar, make it STRICT (%s).", rt.Obj.Ref(), svc.Ref(), t.Detail, strictHow(t))
		out = append(out, r.finding(SeverityWarning, t.Policy, msg, rt.Obj, svc))
	}
	return out
}

func strictHow(t mtls) string {
	if t.Mesh == MeshKuma {
		return "Mesh spec.mtls.backends[].mode: STRICT, MeshTLS mode: Strict"
	}
	return "PeerAuthentication spec.mtls.mode: STRICT"
}
