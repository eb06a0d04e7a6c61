package lint

import (
	"fmt"
	"sort"
	"strings"
)

// Severity of a finding. Order: info < warning < error.
type Severity string

const (
	SeverityInfo    Severity = "info"
	SeverityWarning Severity = "warning"
	SeverityError   Severity = "error"
)

func (s Severity) rank() int {
	switch s {
	case SeverityError:
		return 3
	case SeverityWarning:
		return 2
	case SeverityInfo:
		return 1
	}
	return 0
}

// AtLeast reports whether s is as severe as t.
func (s Severity) AtLeast(t Severity) bool { return s.rank() >= t.rank() }

// ParseSeverity accepts error, warning or info.
func ParseSeverity(s string) (Severity, error) {
	switch v := Severity(strings.ToLower(s)); v {
	case SeverityError, SeverityWarning, SeverityInfo:
		return v, nil
	}
	return "", fmt.Errorf("severity %q: want error, warning or info", s)
}

// Rule is one check with a stable ID. Fact names the upstream source the
// rule rests on: an upstream repository path or documentation page.
type Rule struct {
	ID       string
	Severity Severity // the usual severity; a finding may lower it, saying why
	Title    string
	Help     string
	Fact     string
	// FileOnly: the rule needs objects live mode never reads (Secrets
	// without the konghq.com/credential label), so it finds nothing live.
	FileOnly bool
	check    func(*Model, Rule) []Finding
}

// Finding is one mistake: which rule, how bad, what and where, and the fix
// (inside Message).
type Finding struct {
	RuleID   string      `json:"rule"`
	Severity Severity    `json:"severity"`
	Title    string      `json:"title"`
	Message  string      `json:"message"`
	Object   ObjectRef   `json:"object"`
	Related  []ObjectRef `json:"related,omitempty"`
	Fact     string      `json:"fact"`
}

func (r Rule) finding(sev Severity, obj *Object, msg string, related ...*Object) Finding {
	f := Finding{RuleID: r.ID, Severity: sev, Title: r.Title, Message: msg, Object: obj.Ref(), Fact: r.Fact}
	seen := map[string]bool{obj.Ref().String(): true}
	for _, o := range related {
		if o == nil || seen[o.Ref().String()] {
			continue
		}
		seen[o.Ref().String()] = true
		f.Related = append(f.Related, o.Ref())
	}
	return f
}

// Rules returns every rule, ordered by ID.
func Rules() []Rule {
	rules := []Rule{
		rulePodIP(), ruleAutoAnnotation(), ruleBridgeName(), ruleBridgeTarget(), ruleBridgePort(),
		ruleKumaGatewayAnnotation(), ruleIstioGatewayInjection(), ruleKumaNoPermission(),
		ruleTokenOptional(), ruleJWTMismatch(), ruleDestinationRuleTLS(), rulePermissive(),
		ruleDoubleRetries(), ruleTimeoutBudget(), ruleHostHeader(), ruleWaypointBypass(), ruleKongCredType(), ruleKumaPodLabelIgnored(),
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
	return rules
}

// Run applies every rule to the model and returns the findings in a stable
// order: by location, then rule, then message.
func Run(m *Model) []Finding {
	var out []Finding
	for _, r := range Rules() {
		out = append(out, r.check(m, r)...)
	}
	SortFindings(out)
	return out
}

// SortFindings orders findings by file, line, object, rule and message.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		switch {
		case a.Object.File != b.Object.File:
			return a.Object.File < b.Object.File
		case a.Object.Line != b.Object.Line:
			return a.Object.Line < b.Object.Line
		case a.Object.String() != b.Object.String():
			return a.Object.String() < b.Object.String()
		case a.RuleID != b.RuleID:
			return a.RuleID < b.RuleID
		}
		return a.Message < b.Message
	})
}
