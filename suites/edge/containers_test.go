package edge

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"path"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	fxedge "github.com/meshgate/meshgate/fixtures/edge"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/pki"
)

// requireDocker skips the calling container (and, in an Ordered container,
// every spec in it) with DockerReachable's reason.
func requireDocker(ctx context.Context) {
	if err := cluster.DockerReachable(ctx); err != nil {
		Skip(err.Error())
	}
}

// certFiles copies certificates into a container folder. Keys are 0644: the
// gateway may drop root before reading them, and the container is removed at
// the end of the suite.
func certFiles(dir string, certs ...*pki.Cert) []testcontainers.ContainerFile {
	var files []testcontainers.ContainerFile
	for _, c := range certs {
		files = append(files,
			testcontainers.ContainerFile{Reader: bytes.NewReader(c.CertPEM), ContainerFilePath: path.Join(dir, c.Name+".pem"), FileMode: 0o644},
			testcontainers.ContainerFile{Reader: bytes.NewReader(c.KeyPEM()), ContainerFilePath: path.Join(dir, c.Name+"-key.pem"), FileMode: 0o644})
	}
	return files
}

// clientTLS is what readiness probes present: the valid client certificate.
func clientTLS(serverName string, cert *pki.Cert) *tls.Config {
	cfg := &tls.Config{RootCAs: suite.pki.CA.Pool(), ServerName: serverName, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{cert.TLSCertificate()}
	}
	return cfg
}

// startContainer runs img, registers its removal, and returns it with its
// logs reader. A failed start fails the node with the container's logs.
func startContainer(ctx context.Context, name, img string, opts ...testcontainers.ContainerCustomizer) (*testcontainers.DockerContainer, func() string) {
	ctr, err := testcontainers.Run(ctx, image(img), opts...)
	logs := func() string { return containerLogs(ctr) }
	DeferCleanup(func(ctx SpecContext) error {
		if CurrentSpecReport().Failed() {
			AddReportEntry(name+" logs", logs())
		}
		return testcontainers.TerminateContainer(ctr)
	}, NodeTimeout(timeouts.Stop))
	Expect(err).NotTo(HaveOccurred(), "%s (%s) did not become ready; logs:\n%s", name, img, logs())
	return ctr, logs
}

func containerLogs(ctr *testcontainers.DockerContainer) string {
	if ctr == nil {
		return "(no container)"
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeouts.Request)
	defer cancel()
	rc, err := ctr.Logs(ctx)
	if err != nil {
		return fmt.Sprintf("(logs unavailable: %v)", err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 256<<10))
	return string(b)
}

// endpoint is host:port of the gateway's TLS listener, 8443 in every container.
func endpoint(ctx context.Context, ctr *testcontainers.DockerContainer) string {
	addr, err := ctr.PortEndpoint(ctx, "8443/tcp", "")
	Expect(err).NotTo(HaveOccurred())
	return addr
}

func status200(s int) bool { return s == http.StatusOK }

var _ = Describe("NGINX client mTLS, container", Label("edge", "nginx", "container"), Ordered, ContinueOnFailure, func() {
	var gw *gateway
	BeforeAll(func(ctx SpecContext) {
		requireDocker(ctx)
		b := suite.pki
		conf, err := fxedge.NginxConfig{
			Listen: "8443", CertFile: "/etc/nginx/certs/gateway.pem", KeyFile: "/etc/nginx/certs/gateway-key.pem",
			ClientCAFile: "/etc/nginx/certs/ca.pem", Upstream: fmt.Sprintf("%s:%d", pki.ContainerHostAlias, suite.plain.port),
			PidFile: "/tmp/nginx.pid", TempDir: "/tmp",
		}.Render()
		Expect(err).NotTo(HaveOccurred())
		files := append(certFiles("/etc/nginx/certs", b.Gateway, b.CA.Cert),
			testcontainers.ContainerFile{Reader: bytes.NewReader(conf), ContainerFilePath: "/etc/nginx/nginx.conf", FileMode: 0o644})
		ctr, logs := startContainer(ctx, "nginx", *nginxImage,
			testcontainers.WithFiles(files...),
			testcontainers.WithExposedPorts("8443/tcp"),
			testcontainers.WithHostPortAccess(suite.plain.port),
			testcontainers.WithCmd("nginx", "-e", "stderr", "-g", "daemon off;"),
			testcontainers.WithWaitStrategy(wait.ForHTTP("/api/ready").WithPort("8443/tcp").
				WithTLS(true, clientTLS(pki.GatewayHost, b.Client)).WithStatusCodeMatcher(status200).
				WithStartupTimeout(timeouts.Start)),
		)
		gw = &gateway{
			name: "nginx (" + *nginxImage + ")", backend: suite.plain, forged: forgedNginx, identity: nginxIdentity, logs: logs,
			target: target{addr: endpoint(ctx, ctr), serverName: pki.GatewayHost, roots: b.CA.Pool()},
		}
	}, NodeTimeout(timeouts.Start))
	clientTable(func() *gateway { return gw })
})

var _ = Describe("Envoy client mTLS, container", Label("edge", "envoy", "container"), Ordered, ContinueOnFailure, func() {
	var gw *gateway
	BeforeAll(func(ctx SpecContext) {
		requireDocker(ctx)
		b := suite.pki
		conf, err := fxedge.EnvoyConfig{
			ListenPort: 8443, AdminPort: 9901, CertFile: "/etc/envoy/certs/gateway.pem", KeyFile: "/etc/envoy/certs/gateway-key.pem",
			ClientCAFile: "/etc/envoy/certs/ca.pem", UpstreamHost: pki.ContainerHostAlias, UpstreamPort: suite.plain.port,
		}.Render()
		Expect(err).NotTo(HaveOccurred())
		files := append(certFiles("/etc/envoy/certs", b.Gateway, b.CA.Cert),
			testcontainers.ContainerFile{Reader: bytes.NewReader(conf), ContainerFilePath: "/etc/envoy/envoy.yaml", FileMode: 0o644})
		ctr, logs := startContainer(ctx, "envoy", *envoyImage,
			testcontainers.WithFiles(files...),
			testcontainers.WithExposedPorts("8443/tcp", "9901/tcp"),
			testcontainers.WithHostPortAccess(suite.plain.port),
			testcontainers.WithEnv(map[string]string{"ENVOY_UID": "0"}),
			testcontainers.WithCmd("envoy", "-c", "/etc/envoy/envoy.yaml", "--log-level", "info"),
			testcontainers.WithWaitStrategy(wait.ForAll(
				wait.ForHTTP("/ready").WithPort("9901/tcp").WithStatusCodeMatcher(status200),
				wait.ForHTTP("/api/ready").WithPort("8443/tcp").WithTLS(true, clientTLS(pki.GatewayHost, b.Client)).WithStatusCodeMatcher(status200),
			).WithStartupTimeoutDefault(timeouts.Start)),
		)
		gw = &gateway{
			name: "envoy (" + *envoyImage + ")", backend: suite.plain, forged: forgedXFCC, identity: xfccIdentity, logs: logs,
			target: target{addr: endpoint(ctx, ctr), serverName: pki.GatewayHost, roots: b.CA.Pool()},
		}
	}, NodeTimeout(timeouts.Start))
	clientTable(func() *gateway { return gw })
})
