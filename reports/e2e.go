package reports

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/meshgate/meshgate/scenarios"
)

// fromE2E turns an e2e result (scenarios.RunResult) into the model.
func fromE2E(path string, rr *scenarios.RunResult) (*Run, error) {
	run := &Run{Kind: KindE2E, Schema: rr.Schema, Started: rr.Started, Environment: e2eEnvironment(rr.Environment)}
	for i, sr := range rr.Scenarios {
		out, err := outcomeOf(sr.Verdict)
		if err != nil {
			return nil, fmt.Errorf("%s: scenarios[%d] (%s): %w", path, i, sr.ID, err)
		}
		sc := Scenario{
			ID: sr.ID, Name: sr.Description, Mesh: string(sr.Mesh), Outcome: out, Message: sr.Reason,
			Findings: slices.Clone(sr.Findings),
		}
		if !sr.Started.IsZero() && sr.Finished.After(sr.Started) {
			sc.Seconds = round(sr.Finished.Sub(sr.Started).Seconds(), 1)
		}
		for j, pr := range sr.Phases {
			po, err := outcomeOf(pr.Verdict)
			if err != nil {
				return nil, fmt.Errorf("%s: scenarios[%d] (%s) phase %d (%s): %w", path, i, sr.ID, j, pr.Name, err)
			}
			ph := Phase{Kind: string(pr.Kind), Name: pr.Name, Outcome: po, Message: pr.Reason, Applied: slices.Clone(pr.Applied), Evidence: e2eEvidence(pr.Evidence)}
			for _, c := range pr.Checks {
				co, err := outcomeOf(c.Verdict)
				if err != nil {
					return nil, fmt.Errorf("%s: scenarios[%d] (%s) check %q: %w", path, i, sr.ID, c.Name, err)
				}
				ph.Checks = append(ph.Checks, Check{Name: c.Name, Kind: string(c.Kind), Outcome: co, Detail: c.Detail})
			}
			sc.Phases = append(sc.Phases, ph)
		}
		run.Scenarios = append(run.Scenarios, sc)
	}
	return run, nil
}

func outcomeOf(v scenarios.Verdict) (Outcome, error) {
	switch strings.ToLower(string(v)) {
	case "passed":
		return Passed, nil
	case "failed":
		return Failed, nil
	case "skipped":
		return Skipped, nil
	case "not-supported", "not supported", "unsupported":
		return NotSupported, nil
	}
	return "", fmt.Errorf("verdict %q is none of passed, failed, skipped, not-supported; the file is from an incompatible meshgate", v)
}

func e2eEnvironment(e scenarios.Environment) Environment {
	env := Environment{Provider: e.Provider, Cluster: e.Cluster}
	if os, arch, ok := strings.Cut(e.Host, "/"); ok {
		env.OS, env.Arch = os, arch
	}
	add := func(c, v string) {
		if v != "" {
			env.Versions = append(env.Versions, Version{Component: c, Version: v})
		}
	}
	add("mesh", e.Mesh)
	add("kubernetes", e.Kubernetes)
	for _, k := range slices.Sorted(maps.Keys(e.Versions)) {
		add(k, e.Versions[k])
	}
	add("meshgate", e.Meshgate)
	add("go", e.GoVersion)
	return env
}

// otherLimit bounds evidence shown as raw JSON; report.json is no place for
// a config dump (the run folder keeps those).
const otherLimit = 400

func e2eEvidence(ev scenarios.Evidence) Evidence {
	var out Evidence
	for _, name := range slices.Sorted(maps.Keys(ev.Traffic)) {
		t := ev.Traffic[name]
		tr := Traffic{Probe: name, URL: t.URL, Total: len(t.Requests), ByClass: map[string]int{}}
		for k, v := range t.Outcomes {
			tr.ByClass[string(k)] = v
		}
		if len(t.Pods) > 0 {
			tr.Pods = maps.Clone(t.Pods)
		}
		out.Traffic = append(out.Traffic, tr)
	}
	for _, t := range ev.Targets {
		out.Targets = append(out.Targets, Target{Target: t.Target, Kind: string(t.Kind)})
	}
	for _, x := range ev.XFCC {
		for _, id := range x.SPIFFE {
			if !slices.Contains(out.SPIFFE, id) {
				out.SPIFFE = append(out.SPIFFE, id)
			}
		}
		if x.Error != "" {
			out.Notes = append(out.Notes, fmt.Sprintf("XFCC %q (%d×) did not parse: %s", x.Raw, x.Count, x.Error))
		}
	}
	for _, pod := range slices.Sorted(maps.Keys(ev.StatDeltas)) {
		for _, d := range ev.StatDeltas[pod] {
			out.Handshakes = append(out.Handshakes, CounterDelta{Proxy: pod, Stat: d.Name, Before: int64(d.Before), After: int64(d.After)})
		}
	}
	for _, s := range ev.Services {
		out.Notes = append(out.Notes, serviceNote(s))
	}
	out.Notes = append(out.Notes, ev.Notes...)
	for _, k := range slices.Sorted(maps.Keys(ev.Details)) {
		raw := ev.Details[k]
		if strings.Contains(strings.ToLower(k), "jwt") {
			if rows, ok := jwtRows(raw); ok {
				out.JWT = append(out.JWT, rows...)
				continue
			}
		}
		if out.Other == nil {
			out.Other = map[string]string{}
		}
		out.Other[k] = clipJSON(raw)
	}
	return out
}

func serviceNote(s scenarios.ServiceFacts) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Service %s/%s (%s", s.Namespace, s.Name, s.Type)
	if s.ClusterIP != "" {
		b.WriteString(" " + s.ClusterIP)
	}
	if s.ExternalName != "" {
		b.WriteString(" → " + s.ExternalName)
	}
	b.WriteString(")")
	if len(s.Annotations) > 0 {
		keys := make([]string, 0, len(s.Annotations))
		for k := range s.Annotations {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + s.Annotations[k]
		}
		b.WriteString(", annotations: " + strings.Join(parts, ", "))
	}
	return b.String()
}

// jwtRows reads JWT evidence written as a list of objects; it accepts the
// usual names for claim, sent and seen values and a verdict or match flag.
func jwtRows(raw json.RawMessage) ([]JWTRow, bool) {
	var items []map[string]any
	if err := json.Unmarshal(raw, &items); err != nil || len(items) == 0 {
		return nil, false
	}
	pick := func(m map[string]any, keys ...string) string {
		for _, k := range keys {
			if v, ok := m[k]; ok && v != nil {
				if s, ok := v.(string); ok {
					return s
				}
				b, _ := json.Marshal(v)
				return string(b)
			}
		}
		return ""
	}
	rows := make([]JWTRow, 0, len(items))
	for _, m := range items {
		row := JWTRow{
			Claim:    pick(m, "claim", "name", "key"),
			Expected: pick(m, "expected", "sent", "want"),
			Seen:     pick(m, "seen", "got", "received", "backend"),
		}
		if row.Claim == "" {
			return nil, false
		}
		switch v := pick(m, "verdict", "outcome", "match", "ok"); v {
		case "passed", "true":
			row.Outcome = Passed
		case "failed", "false":
			row.Outcome = Failed
		case "skipped":
			row.Outcome = Skipped
		default:
			if row.Expected != "" {
				row.Outcome = Failed
				if row.Expected == row.Seen {
					row.Outcome = Passed
				}
			}
		}
		rows = append(rows, row)
	}
	return rows, true
}

func clipJSON(raw json.RawMessage) string {
	var v any
	s := string(raw)
	if json.Unmarshal(raw, &v) == nil {
		if b, err := json.Marshal(v); err == nil {
			s = string(b)
		}
	}
	if len(s) > otherLimit {
		s = s[:otherLimit] + "…"
	}
	return s
}
