package kube

import (
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Redacted replaces every secret value in diagnostics.
const Redacted = "REDACTED"

var (
	jwtRE    = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*`)
	bearerRE = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}`)
	pemKeyRE = regexp.MustCompile(`-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?-----END ([A-Z ]*)PRIVATE KEY-----`)
	// key: value / "key": "value" / key=value for names that hold secrets.
	secretFieldRE = regexp.MustCompile(`(?i)("?\b(?:token|id_token|access_token|refresh_token|password|passwd|secret|client[-_]key[-_]data|private[-_]key|api[-_]?key)"?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,{}\[\]"']+)`)
	// JSON-escaped PEM bodies, as in Envoy config dumps.
	pemEscapedRE = regexp.MustCompile(`-----BEGIN ([A-Z ]*)PRIVATE KEY-----(\\n|[^"])*?-----END ([A-Z ]*)PRIVATE KEY-----`)
)

// RedactText removes bearer and basic credentials, JWTs, PEM private keys and
// the values of token/password/secret-like fields from text.
func RedactText(s string) string {
	s = pemKeyRE.ReplaceAllString(s, "-----BEGIN ${1}PRIVATE KEY-----\n"+Redacted+"\n-----END ${2}PRIVATE KEY-----")
	s = pemEscapedRE.ReplaceAllString(s, "-----BEGIN ${1}PRIVATE KEY-----"+Redacted+"-----END ${3}PRIVATE KEY-----")
	s = jwtRE.ReplaceAllString(s, Redacted+"-JWT")
	s = bearerRE.ReplaceAllString(s, "${1} "+Redacted)
	s = secretFieldRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := secretFieldRE.FindStringSubmatch(m)
		if strings.HasPrefix(sub[2], Redacted) || strings.HasPrefix(strings.Trim(sub[2], `"'`), Redacted) {
			return m
		}
		return sub[1] + quoteLike(sub[2], Redacted)
	})
	return s
}

func quoteLike(orig, with string) string {
	if len(orig) >= 2 && (orig[0] == '"' || orig[0] == '\'') {
		return string(orig[0]) + with + string(orig[0])
	}
	return with
}

// RedactObject returns a copy of obj safe to write: a Secret's data and
// stringData values are replaced by their size, the last-applied annotation
// (which repeats them) is dropped, and every string is passed through
// RedactText.
func RedactObject(obj *unstructured.Unstructured) *unstructured.Unstructured {
	out := obj.DeepCopy()
	if out.GetKind() == "Secret" {
		for _, field := range []string{"data", "stringData"} {
			m, ok, _ := unstructured.NestedMap(out.Object, field)
			if !ok {
				continue
			}
			for k, v := range m {
				m[k] = fmt.Sprintf("%s (%d bytes)", Redacted, len(fmt.Sprint(v)))
			}
			_ = unstructured.SetNestedMap(out.Object, m, field)
		}
		ann := out.GetAnnotations()
		delete(ann, "kubectl.kubernetes.io/last-applied-configuration")
		out.SetAnnotations(ann)
	}
	out.Object = redactValue(out.Object).(map[string]any)
	return out
}

func redactValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = redactValue(x)
		}
		return t
	case []any:
		for i, x := range t {
			t[i] = redactValue(x)
		}
		return t
	case string:
		return RedactText(t)
	default:
		return v
	}
}
