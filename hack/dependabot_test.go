package hack

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/modfile"
)

// dependabotConfig holds the fields of GitHub's dependabot.yml (version 2)
// that meshgate uses; decoding with KnownFields refuses any other key, so a
// misspelt option fails here instead of being ignored by GitHub.
type dependabotConfig struct {
	Version int `yaml:"version"`
	Updates []struct {
		Ecosystem string `yaml:"package-ecosystem"`
		Directory string `yaml:"directory"`
		Schedule  struct {
			Interval string `yaml:"interval"`
		} `yaml:"schedule"`
		Groups map[string]struct {
			Patterns []string `yaml:"patterns"`
		} `yaml:"groups"`
	} `yaml:"updates"`
}

func decodeDependabot(b []byte) (dependabotConfig, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c dependabotConfig
	err := dec.Decode(&c)
	return c, err
}

// groupOf returns the group whose patterns match module, as Dependabot's
// wildcard matching does ("*" spans any characters, "/" included).
func groupOf(c dependabotConfig, ecosystem, module string) string {
	for _, u := range c.Updates {
		if u.Ecosystem != ecosystem {
			continue
		}
		for name, g := range u.Groups {
			for _, p := range g.Patterns {
				if wildcard(p, module) {
					return name
				}
			}
		}
	}
	return ""
}

func wildcard(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return s == pattern
	}
	if !strings.HasPrefix(s, parts[0]) || !strings.HasSuffix(s[len(parts[0]):], parts[len(parts)-1]) {
		return false
	}
	s = s[len(parts[0]) : len(s)-len(parts[len(parts)-1])]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return true
}

func TestDependabotConfig(t *testing.T) {
	b, err := os.ReadFile("../.github/dependabot.yml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := decodeDependabot(b)
	if err != nil {
		t.Fatalf(".github/dependabot.yml: %v", err)
	}
	if c.Version != 2 {
		t.Errorf("version %d, want 2", c.Version)
	}
	ecosystems := map[string]bool{}
	for _, u := range c.Updates {
		ecosystems[u.Ecosystem] = true
		if u.Directory != "/" || u.Schedule.Interval == "" {
			t.Errorf("%s: directory %q, interval %q: want / and a schedule", u.Ecosystem, u.Directory, u.Schedule.Interval)
		}
	}
	for _, want := range []string{"gomod", "github-actions"} {
		if !ecosystems[want] {
			t.Errorf("no updates for %s", want)
		}
	}

	b, err = os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod, err := modfile.Parse("go.mod", b, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Every direct k8s.io module and controller-runtime must land in one PR:
	// updated apart, they do not build together.
	var k8sGroup string
	for _, r := range mod.Require {
		p := r.Mod.Path
		if r.Indirect || !(strings.HasPrefix(p, "k8s.io/") || p == "sigs.k8s.io/controller-runtime") {
			continue
		}
		g := groupOf(c, "gomod", p)
		switch {
		case g == "":
			t.Errorf("%s is in no group; it would be updated apart from the k8s.io family", p)
		case k8sGroup == "":
			k8sGroup = g
		case g != k8sGroup:
			t.Errorf("%s is in group %q, the k8s.io family in %q", p, g, k8sGroup)
		}
	}
	if k8sGroup == "" {
		t.Error("go.mod requires no k8s.io module directly; the check above proved nothing")
	}
}

func TestDependabotConfigRefusesUnknownKeys(t *testing.T) {
	_, err := decodeDependabot([]byte("version: 2\nupdates:\n  - package-ecosystem: gomod\n    directory: /\n    shedule: {interval: weekly}\n"))
	if err == nil || !strings.Contains(err.Error(), "shedule") {
		t.Errorf("misspelt key accepted: %v", err)
	}
}

func TestWildcard(t *testing.T) {
	for _, tt := range []struct {
		pattern, s string
		want       bool
	}{
		{"k8s.io/*", "k8s.io/client-go", true},
		{"k8s.io/*", "sigs.k8s.io/kind", false},
		{"github.com/onsi/*", "github.com/onsi/gomega", true},
		{"helm.sh/helm/v4", "helm.sh/helm/v4", true},
		{"helm.sh/helm/v4", "helm.sh/helm/v3", false},
		{"*/kind", "sigs.k8s.io/kind", true},
	} {
		if got := wildcard(tt.pattern, tt.s); got != tt.want {
			t.Errorf("wildcard(%q, %q) = %v", tt.pattern, tt.s, got)
		}
	}
}
