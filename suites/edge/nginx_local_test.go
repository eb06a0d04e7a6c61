package edge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	fxedge "github.com/meshgate/meshgate/fixtures/edge"
	"github.com/meshgate/meshgate/internal/pki"
)

const installNginx = "install nginx (apt-get install nginx)"

var _ = Describe("NGINX client mTLS, local process", Label("edge", "nginx", "local"), Ordered, ContinueOnFailure, func() {
	var gw *gateway
	BeforeAll(func(ctx SpecContext) {
		bin, err := findNginx(*nginxBin)
		if err != nil && *nginxBin != "" {
			Fail(fmt.Sprintf("-edge.nginx / MESHGATE_NGINX = %q: %v; point it at an nginx binary or unset it", *nginxBin, err))
		}
		if err != nil {
			Skip(installNginx + ": " + err.Error())
		}
		n, err := startLocalNginx(ctx, bin, suite.pki, suite.plain.addr)
		if n != nil {
			DeferCleanup(func(ctx SpecContext) error { return n.stop() }, NodeTimeout(timeouts.Stop))
		}
		Expect(err).NotTo(HaveOccurred())
		gw = &gateway{
			name: "nginx (local " + bin + ")", backend: suite.plain, forged: forgedNginx,
			target:   target{addr: n.addr, serverName: pki.GatewayHost, roots: suite.pki.CA.Pool()},
			identity: nginxIdentity, logs: n.output,
		}
	}, NodeTimeout(timeouts.Start))
	clientTable(func() *gateway { return gw })
})

func findNginx(flagValue string) (string, error) {
	if flagValue != "" {
		return exec.LookPath(flagValue)
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx", nil
	}
	return "", errors.New("no nginx on PATH or at /usr/sbin/nginx")
}

// localNginx is an nginx master process this suite started, with its own
// prefix, pid file and temp paths in a temporary folder.
type localNginx struct {
	addr string
	cmd  *exec.Cmd
	dir  string
	out  *lockedBuffer
	exit chan error
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (n *localNginx) output() string { return n.out.String() }

// startLocalNginx renders the same nginx.conf the container uses, checks it
// with nginx -t, starts nginx in the foreground and waits until a request
// with the valid client certificate reaches the backend through it.
func startLocalNginx(ctx context.Context, bin string, b *pki.Bundle, upstream string) (*localNginx, error) {
	dir, err := os.MkdirTemp("", "meshgate-edge-nginx-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	n := &localNginx{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, out: &lockedBuffer{}, exit: make(chan error, 1)}
	conf, err := fxedge.NginxConfig{
		Listen: n.addr, CertFile: b.Gateway.CertFile, KeyFile: b.Gateway.KeyFile, ClientCAFile: b.CA.CertFile,
		Upstream: upstream, PidFile: filepath.Join(dir, "nginx.pid"), TempDir: dir,
	}.Render()
	if err != nil {
		return nil, err
	}
	confFile := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confFile, conf, 0o600); err != nil {
		return nil, err
	}
	args := []string{"-p", dir + "/", "-e", "stderr", "-c", confFile}
	if out, err := exec.CommandContext(ctx, bin, append(args, "-t")...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s -t rejected %s: %v\n%s", bin, confFile, err, out)
	}
	n.cmd = exec.Command(bin, append(args, "-g", "daemon off;")...)
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { n.exit <- n.cmd.Wait() }()
	return n, n.waitReady(ctx, b)
}

func (n *localNginx) waitReady(ctx context.Context, b *pki.Bundle) error {
	t := target{addr: n.addr, serverName: pki.GatewayHost, roots: b.CA.Pool()}
	deadline := time.Now().Add(30 * time.Second)
	var last call
	for time.Now().Before(deadline) {
		select {
		case err := <-n.exit:
			n.exit <- err
			return fmt.Errorf("nginx exited before it was ready (%v); its output:\n%s", err, n.output())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		last = t.do(ctx, "/api/ready", callOpts{cert: b.Client})
		if last.err == nil && last.status == http.StatusOK {
			return nil
		}
	}
	return fmt.Errorf("nginx on %s not ready after 30s; last probe %s; its output:\n%s", n.addr, last, n.output())
}

// stop ends the nginx master this suite started (SIGQUIT: graceful), then
// removes its folder.
func (n *localNginx) stop() error {
	defer os.RemoveAll(n.dir)
	if n.cmd == nil || n.cmd.Process == nil {
		return nil
	}
	_ = n.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-n.exit:
		return nil
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exit
		return fmt.Errorf("nginx (pid %d) ignored SIGQUIT for 10s and was killed", n.cmd.Process.Pid)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
