package cluster

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// Finding is one doctor check's outcome.
type Finding struct {
	Check  string
	Status Status
	Detail string // what was seen
	Fix    string // what to do, when not OK
}

// Status of a Finding.
type Status string

const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "FAIL"
)

// Probes are how the doctor looks at the host; tests replace them.
type Probes struct {
	Docker    func(ctx context.Context) error
	ReadFile  func(path string) ([]byte, error)
	Stat      func(path string) error
	FreeBytes func(path string) (uint64, error)
	Listen    func(addr string) error // nil when addr could be bound
	LookPath  func(file string) (string, error)
}

// HostProbes look at this machine.
func HostProbes() Probes {
	return Probes{
		Docker:   DockerReachable,
		ReadFile: os.ReadFile,
		Stat:     func(p string) error { _, err := os.Stat(p); return err },
		FreeBytes: func(p string) (uint64, error) {
			var st syscall.Statfs_t
			if err := syscall.Statfs(p, &st); err != nil {
				return 0, err
			}
			return st.Bavail * uint64(st.Bsize), nil
		},
		Listen: func(addr string) error {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			return l.Close()
		},
		LookPath: exec.LookPath,
	}
}

// DoctorConfig is what the doctor checks against.
type DoctorConfig struct {
	HostPorts []int  // ports on 127.0.0.1 kind will map (Kong's proxy)
	DiskPath  string // where images and the run folder go (default os.TempDir())
}

// Thresholds from kind's known issues (docs/user/known-issues.md) and the
// size of the images a run pulls.
const (
	minInotifyWatches   = 524288
	minInotifyInstances = 512
	minFreeDiskFail     = 4 << 30
	minFreeDiskWarn     = 12 << 30
)

// Doctor runs every check and returns all findings (it does not stop at the
// first failure).
func Doctor(ctx context.Context, p Probes, cfg DoctorConfig) []Finding {
	if cfg.DiskPath == "" {
		cfg.DiskPath = os.TempDir()
	}
	var out []Finding
	if err := p.Docker(ctx); err != nil {
		out = append(out, Finding{Check: "Docker", Status: Fail, Detail: err.Error(),
			Fix: "install and start Docker (https://docs.docker.com/engine/install/), add yourself to the docker group, or set DOCKER_HOST; kind runs its nodes as containers"})
	} else {
		out = append(out, Finding{Check: "Docker", Status: OK, Detail: "engine answers /_ping"})
	}
	out = append(out, sysctlMin(p, "fs.inotify.max_user_watches", minInotifyWatches))
	out = append(out, sysctlMin(p, "fs.inotify.max_user_instances", minInotifyInstances))
	out = append(out, cgroups(p))
	out = append(out, disk(p, cfg.DiskPath))
	for _, port := range cfg.HostPorts {
		addr := "127.0.0.1:" + strconv.Itoa(port)
		if err := p.Listen(addr); err != nil {
			out = append(out, Finding{Check: "host port " + addr, Status: Fail, Detail: err.Error(),
				Fix: fmt.Sprintf("stop what listens on %s (a kept meshgate cluster: meshgate down --name <name>), or pass --proxy-port/--proxy-tls-port (-1 picks a free port)", addr)})
		} else {
			out = append(out, Finding{Check: "host port " + addr, Status: OK, Detail: "free"})
		}
	}
	if path, err := p.LookPath("go"); err != nil {
		out = append(out, Finding{Check: "Go toolchain", Status: Fail, Detail: err.Error(),
			Fix: "install Go (https://go.dev/dl/): meshgate builds its echo and load-generator images with go build"})
	} else {
		out = append(out, Finding{Check: "Go toolchain", Status: OK, Detail: path})
	}
	return out
}

func sysctlMin(p Probes, key string, min int) Finding {
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	data, err := p.ReadFile(path)
	if err != nil {
		return Finding{Check: key, Status: Warn, Detail: fmt.Sprintf("cannot read %s: %v", path, err), Fix: "on Linux hosts, check it with sysctl " + key}
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return Finding{Check: key, Status: Warn, Detail: fmt.Sprintf("%s holds %q", path, data)}
	}
	if v < min {
		return Finding{Check: key, Status: Fail, Detail: fmt.Sprintf("%d, kind needs at least %d for several nodes (kind known issue: too many open files)", v, min),
			Fix: fmt.Sprintf("sudo sysctl %s=%d (persist it in /etc/sysctl.d/99-kind.conf)", key, min)}
	}
	return Finding{Check: key, Status: OK, Detail: strconv.Itoa(v)}
}

func cgroups(p Probes) Finding {
	if err := p.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return Finding{Check: "cgroup", Status: OK, Detail: "cgroup v2 (unified)"}
	}
	if err := p.Stat("/sys/fs/cgroup"); err != nil {
		return Finding{Check: "cgroup", Status: Warn, Detail: "no /sys/fs/cgroup here (not Linux, or Docker runs in a VM: then the VM's cgroups count)",
			Fix: "nothing on macOS/Windows Docker Desktop; on Linux mount cgroup2"}
	}
	return Finding{Check: "cgroup", Status: Warn, Detail: "cgroup v1; kind supports it but recent node images are tested on v2",
		Fix: "boot with systemd.unified_cgroup_hierarchy=1 if kind nodes fail to start"}
}

func disk(p Probes, path string) Finding {
	free, err := p.FreeBytes(path)
	if err != nil {
		return Finding{Check: "free disk", Status: Warn, Detail: fmt.Sprintf("statfs %s: %v", path, err)}
	}
	gib := float64(free) / (1 << 30)
	switch {
	case free < minFreeDiskFail:
		return Finding{Check: "free disk", Status: Fail, Detail: fmt.Sprintf("%.1f GiB free at %s", gib, path),
			Fix: "free space: kind node images, Kong and mesh images need several GiB (docker system prune removes unused ones)"}
	case free < minFreeDiskWarn:
		return Finding{Check: "free disk", Status: Warn, Detail: fmt.Sprintf("%.1f GiB free at %s; a run with both meshes uses about %d GiB", gib, path, minFreeDiskWarn>>30),
			Fix: "docker system prune, or move TMPDIR"}
	}
	return Finding{Check: "free disk", Status: OK, Detail: fmt.Sprintf("%.1f GiB free at %s", gib, path)}
}

// WriteFindings prints one line per check and, under failures and warnings,
// the fix. It returns the number of failures.
func WriteFindings(w io.Writer, fs []Finding) int {
	fails := 0
	for _, f := range fs {
		fmt.Fprintf(w, "%-4s  %-32s %s\n", f.Status, f.Check, f.Detail)
		if f.Status != OK && f.Fix != "" {
			fmt.Fprintf(w, "      fix: %s\n", f.Fix)
		}
		if f.Status == Fail {
			fails++
		}
	}
	return fails
}
