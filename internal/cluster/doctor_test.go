package cluster

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func healthy() Probes {
	return Probes{
		Docker: func(context.Context) error { return nil },
		ReadFile: func(p string) ([]byte, error) {
			switch p {
			case "/proc/sys/fs/inotify/max_user_watches":
				return []byte("524288\n"), nil
			case "/proc/sys/fs/inotify/max_user_instances":
				return []byte("512\n"), nil
			}
			return nil, errors.New("unexpected read " + p)
		},
		Stat:      func(string) error { return nil },
		FreeBytes: func(string) (uint64, error) { return 50 << 30, nil },
		Listen:    func(string) error { return nil },
		LookPath:  func(string) (string, error) { return "/usr/bin/go", nil },
	}
}

func TestDoctor(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(*Probes)
		failing  []string // checks that must FAIL
		fixHints []string // text that must appear in the report
	}{
		{name: "healthy host", mutate: func(*Probes) {}},
		{
			name: "no docker",
			mutate: func(p *Probes) {
				p.Docker = func(context.Context) error {
					return errors.New("Docker is not reachable at unix:///var/run/docker.sock")
				}
			},
			failing:  []string{"Docker"},
			fixHints: []string{"install and start Docker"},
		},
		{
			name: "ubuntu inotify defaults",
			mutate: func(p *Probes) {
				p.ReadFile = func(path string) ([]byte, error) {
					if strings.HasSuffix(path, "watches") {
						return []byte("8192"), nil
					}
					return []byte("128"), nil
				}
			},
			failing:  []string{"fs.inotify.max_user_watches", "fs.inotify.max_user_instances"},
			fixHints: []string{"sudo sysctl fs.inotify.max_user_watches=524288", "sudo sysctl fs.inotify.max_user_instances=512"},
		},
		{
			name:     "disk nearly full",
			mutate:   func(p *Probes) { p.FreeBytes = func(string) (uint64, error) { return 1 << 30, nil } },
			failing:  []string{"free disk"},
			fixHints: []string{"docker system prune"},
		},
		{
			name: "proxy port taken",
			mutate: func(p *Probes) {
				p.Listen = func(addr string) error {
					if addr == "127.0.0.1:30080" {
						return errors.New("address already in use")
					}
					return nil
				}
			},
			failing:  []string{"host port 127.0.0.1:30080"},
			fixHints: []string{"--proxy-port"},
		},
		{
			name:     "no go",
			mutate:   func(p *Probes) { p.LookPath = func(string) (string, error) { return "", errors.New("not found") } },
			failing:  []string{"Go toolchain"},
			fixHints: []string{"https://go.dev/dl/"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := healthy()
			tt.mutate(&p)
			fs := Doctor(context.Background(), p, DoctorConfig{HostPorts: []int{30080, 30443}, DiskPath: "/tmp"})
			var failed []string
			for _, f := range fs {
				if f.Status == Fail {
					failed = append(failed, f.Check)
					if f.Fix == "" {
						t.Errorf("failing check %s gives no fix", f.Check)
					}
				}
			}
			if strings.Join(failed, "|") != strings.Join(tt.failing, "|") {
				t.Errorf("failed checks %v, want %v", failed, tt.failing)
			}
			var out bytes.Buffer
			if n := WriteFindings(&out, fs); n != len(tt.failing) {
				t.Errorf("WriteFindings counted %d failures, want %d", n, len(tt.failing))
			}
			for _, h := range tt.fixHints {
				if !strings.Contains(out.String(), h) {
					t.Errorf("report lacks %q:\n%s", h, out.String())
				}
			}
		})
	}
}

func TestDoctorCgroupV1IsAWarning(t *testing.T) {
	p := healthy()
	p.Stat = func(path string) error {
		if path == "/sys/fs/cgroup/cgroup.controllers" {
			return errors.New("absent")
		}
		return nil
	}
	for _, f := range Doctor(context.Background(), p, DoctorConfig{}) {
		if f.Check == "cgroup" && f.Status != Warn {
			t.Errorf("cgroup v1: status %s, want warn", f.Status)
		}
	}
}
