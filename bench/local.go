package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"text/template"
	"time"
)

// Local modes: the echo backend direct, the same again (A/A), and through a
// real proxy hop on loopback.
const (
	ModeBaseline   = "baseline"
	ModeBaselineAA = "baseline-aa"
	ModeProxy      = "proxy"
)

// Proxy kinds for local mode.
const (
	ProxyAuto  = "auto"
	ProxyNginx = "nginx"
	ProxyGo    = "go"
)

// DelayHeader asks the local backend wrapper to sleep before answering. Only
// LocalOptions.InjectDelay installs that wrapper: it exists so the regression
// gate can be shown failing on a real, known slowdown of the proxy hop.
const DelayHeader = "X-Meshgate-Inject-Delay"

// LocalOptions configure local mode.
type LocalOptions struct {
	Backend     http.Handler // the echo backend (echoserver.New)
	Proxy       string       // auto (nginx when installed, else go), nginx, go
	NginxPath   string       // default: nginx on PATH, else /usr/sbin/nginx
	BodyBytes   int
	InjectDelay time.Duration // added to every request through the proxy hop
	Logger      *slog.Logger
}

// LocalEnv is a running local target: modes to attack and Close to stop it.
type LocalEnv struct {
	Modes  []Mode
	Proxy  string // what the proxy hop is, e.g. "nginx/1.22.1"
	closer []func() error
}

// Close stops the proxy and the backend, last started first.
func (e *LocalEnv) Close() error {
	var errs []error
	for i := len(e.closer) - 1; i >= 0; i-- {
		errs = append(errs, e.closer[i]())
	}
	return errors.Join(errs...)
}

// StartLocal serves the backend on 127.0.0.1 and puts a proxy hop in front of
// it. The caller must Close the result.
func StartLocal(ctx context.Context, o LocalOptions) (_ *LocalEnv, err error) {
	if o.Backend == nil {
		return nil, errors.New("local bench: no backend handler")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	env := &LocalEnv{}
	defer func() {
		if err != nil {
			env.Close()
		}
	}()
	backend := o.Backend
	if o.InjectDelay > 0 {
		backend = delayed(backend)
	}
	backendAddr, stop, err := serve(backend)
	if err != nil {
		return nil, err
	}
	env.closer = append(env.closer, stop)

	kind, nginx, err := chooseProxy(o)
	if err != nil {
		return nil, err
	}
	var proxyAddr string
	switch kind {
	case ProxyNginx:
		proxyAddr, env.Proxy, stop, err = startNginx(ctx, nginx, backendAddr, o.InjectDelay, log)
	default:
		proxyAddr, env.Proxy, stop, err = startGoProxy(backendAddr, o.InjectDelay)
	}
	if err != nil {
		return nil, err
	}
	env.closer = append(env.closer, stop)

	path := fmt.Sprintf("/bytes/%d", o.BodyBytes)
	env.Modes = []Mode{
		{Name: ModeBaseline, Description: "load generator to the echo backend on 127.0.0.1, no proxy", URL: "http://" + backendAddr + path},
		{Name: ModeBaselineAA, Description: "the baseline again, interleaved: A/A noise floor", URL: "http://" + backendAddr + path},
		{Name: ModeProxy, Description: "through " + env.Proxy + " on 127.0.0.1 (keep-alive upstream) to the same backend", URL: "http://" + proxyAddr + path},
	}
	for _, m := range env.Modes {
		if err := waitOK(ctx, m.URL, o.BodyBytes); err != nil {
			return nil, fmt.Errorf("local mode %s (%s) not ready: %w", m.Name, m.URL, err)
		}
	}
	return env, nil
}

func chooseProxy(o LocalOptions) (string, string, error) {
	nginx := o.NginxPath
	if nginx == "" {
		if p, err := exec.LookPath("nginx"); err == nil {
			nginx = p
		} else if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
			nginx = "/usr/sbin/nginx"
		}
	}
	switch o.Proxy {
	case "", ProxyAuto:
		if nginx != "" {
			return ProxyNginx, nginx, nil
		}
		return ProxyGo, "", nil
	case ProxyNginx:
		if nginx == "" {
			return "", "", errors.New("--proxy nginx: nginx is not installed (apt-get install -y nginx), or pass --proxy go")
		}
		return ProxyNginx, nginx, nil
	case ProxyGo:
		return ProxyGo, "", nil
	}
	return "", "", fmt.Errorf("--proxy %q: want auto, nginx or go", o.Proxy)
}

func delayed(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d, err := time.ParseDuration(r.Header.Get(DelayHeader)); err == nil && d > 0 {
			time.Sleep(d)
		}
		h.ServeHTTP(w, r)
	})
}

func serve(h http.Handler) (string, func() error, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen on loopback: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second}
	go srv.Serve(ln)
	stop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	}
	return ln.Addr().String(), stop, nil
}

func startGoProxy(backend string, delay time.Duration) (string, string, func() error, error) {
	target := &url.URL{Scheme: "http", Host: backend}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			if delay > 0 {
				r.Out.Header.Set(DelayHeader, delay.String())
			}
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second},
	}
	addr, stop, err := serve(rp)
	return addr, "go httputil.ReverseProxy (" + runtime.Version() + ")", stop, err
}

var nginxConf = template.Must(template.New("nginx").Parse(`# meshgate bench --local: one nginx hop on loopback
daemon off;
master_process off;
worker_processes 1;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path {{.Dir}}/client_body;
  proxy_temp_path {{.Dir}}/proxy;
  fastcgi_temp_path {{.Dir}}/fastcgi;
  uwsgi_temp_path {{.Dir}}/uwsgi;
  scgi_temp_path {{.Dir}}/scgi;
  keepalive_requests 1000000;
  upstream echo {
    server {{.Backend}};
    keepalive 256;
    keepalive_requests 1000000;
  }
  server {
    listen {{.Listen}};
    location / {
      proxy_pass http://echo;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
{{- if .Delay}}
      proxy_set_header {{.DelayHeader}} {{.Delay}};
{{- end}}
    }
  }
}
`))

func startNginx(ctx context.Context, bin, backend string, delay time.Duration, log *slog.Logger) (string, string, func() error, error) {
	dir, err := os.MkdirTemp("", "meshgate-nginx-")
	if err != nil {
		return "", "", nil, err
	}
	listen, err := freePort()
	if err != nil {
		return "", "", nil, err
	}
	var conf bytes.Buffer
	data := map[string]any{"Dir": dir, "Backend": backend, "Listen": listen, "DelayHeader": DelayHeader}
	if delay > 0 {
		data["Delay"] = delay.String()
	}
	if err := nginxConf.Execute(&conf, data); err != nil {
		return "", "", nil, err
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, conf.Bytes(), 0o600); err != nil {
		return "", "", nil, err
	}
	version := "nginx"
	if out, err := exec.CommandContext(ctx, bin, "-v").CombinedOutput(); err == nil {
		version = strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version: ")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		return "", "", nil, fmt.Errorf("start %s: %w", bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stop := func() error {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		return os.RemoveAll(dir)
	}
	log.Debug("nginx started", "pid", cmd.Process.Pid, "listen", listen, "conf", confPath)
	select {
	case err := <-done:
		logged, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		os.RemoveAll(dir)
		return "", "", nil, fmt.Errorf("nginx exited at start (%v): %s%s; check %s or pass --proxy go", err, stderr.String(), logged, confPath)
	case <-time.After(100 * time.Millisecond):
	}
	return listen, version, stop, nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free loopback port: %w", err)
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// waitOK polls url until it answers 200 with want bytes, for up to 5 s.
func waitOK(ctx context.Context, url string, want int) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var last error
	for {
		last = probe(ctx, url, want)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return last
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func probe(ctx context.Context, url string, want int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK || body.Len() != want {
		return fmt.Errorf("answered %s with %d bytes, want 200 with %d bytes", resp.Status, body.Len(), want)
	}
	return nil
}
