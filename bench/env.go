package bench

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// LocalNode describes this machine for Env.Nodes: OS, architecture, kernel,
// cores and memory, read from /proc where it exists.
func LocalNode(role string) Node {
	n := Node{Role: role, OS: runtime.GOOS, Arch: runtime.GOARCH, Cores: runtime.NumCPU()}
	n.Name, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		n.KernelVersion = strings.TrimSpace(string(b))
	}
	n.MemMB = memTotalMB("/proc/meminfo")
	return n
}

func memTotalMB(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}
