package probe

import (
	"fmt"
	"strings"
)

// An XFCCElement is one comma-separated element of an
// X-Forwarded-Client-Cert header: what one proxy hop saw of its peer.
// Envoy's keys: By (the proxy's own URI SAN), Hash, Cert, Chain, Subject,
// URI (the peer's URI SAN) and DNS; URI and DNS may repeat.
type XFCCElement struct {
	By      []string `json:"by,omitempty"`
	Hash    string   `json:"hash,omitempty"`
	Cert    string   `json:"cert,omitempty"`
	Chain   string   `json:"chain,omitempty"`
	Subject string   `json:"subject,omitempty"`
	URI     []string `json:"uri,omitempty"`
	DNS     []string `json:"dns,omitempty"`
}

// ParseXFCC splits an X-Forwarded-Client-Cert value into its elements.
// Values may be double-quoted, and then hold ',', ';' and '=' and escape '"'
// as '\"'. Keys are case-insensitive; unknown keys are an error, because a
// header we misread must not count as mTLS evidence.
func ParseXFCC(header string) ([]XFCCElement, error) {
	var out []XFCCElement
	for i, elem := range splitQuoted(header, ',') {
		if strings.TrimSpace(elem) == "" {
			return nil, fmt.Errorf("XFCC %q: element %d is empty", header, i+1)
		}
		e, err := parseXFCCElement(elem)
		if err != nil {
			return nil, fmt.Errorf("XFCC element %d: %w", i+1, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func parseXFCCElement(elem string) (XFCCElement, error) {
	var e XFCCElement
	for _, pair := range splitQuoted(elem, ';') {
		key, raw, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			return e, fmt.Errorf("pair %q has no '=' (want key=value)", pair)
		}
		val, err := unquoteXFCC(raw)
		if err != nil {
			return e, fmt.Errorf("key %s: %w", key, err)
		}
		switch strings.ToLower(key) {
		case "by":
			e.By = append(e.By, val)
		case "hash":
			e.Hash = val
		case "cert":
			e.Cert = val
		case "chain":
			e.Chain = val
		case "subject":
			e.Subject = val
		case "uri", "san": // SAN: Envoy's name for URI before 1.5
			e.URI = append(e.URI, val)
		case "dns":
			e.DNS = append(e.DNS, val)
		default:
			return e, fmt.Errorf("unknown key %q (Envoy writes By, Hash, Cert, Chain, Subject, URI, DNS)", key)
		}
	}
	return e, nil
}

// splitQuoted splits s at sep outside double quotes, honouring \" escapes.
func splitQuoted(s string, sep byte) []string {
	var parts []string
	inQuote, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case c == '\\' && inQuote:
			escaped = true
		case c == '"':
			inQuote = !inQuote
		case c == sep && !inQuote:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func unquoteXFCC(v string) (string, error) {
	if !strings.HasPrefix(v, `"`) {
		if strings.Contains(v, `"`) {
			return "", fmt.Errorf("value %q has a stray double quote", v)
		}
		return v, nil
	}
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && i+1 < len(v):
			i++
			b.WriteByte(v[i])
		case c == '"':
			if i != len(v)-1 {
				return "", fmt.Errorf("value %s: text after the closing quote", v)
			}
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("value %s: unterminated quote", v)
}

// SPIFFEIDs returns the peer URIs (URI=) of every element that are SPIFFE IDs,
// in header order: the first is the hop nearest the original client.
func SPIFFEIDs(elems []XFCCElement) []string {
	var ids []string
	for _, e := range elems {
		for _, u := range e.URI {
			if strings.HasPrefix(u, "spiffe://") {
				ids = append(ids, u)
			}
		}
	}
	return ids
}
