// Package images builds meshgate's own images (the echo backend, the load
// generator) from Go source into image archives, with no Dockerfile and no
// base image: one static binary on an empty base. It also pulls upstream
// images once into a cache for preloading into kind.
package images

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/meshgate/meshgate/fixtures"
)

// Spec is one image built from a Go main package.
type Spec struct {
	Ref     string // e.g. fixtures.EchoImage
	Package string // Go package path or ./relative dir, e.g. ./fixtures/apps/echo
	// Dir is where `go build` runs (the module root); default the working dir.
	Dir  string
	Arch string // GOARCH of the nodes; default runtime.GOARCH
	// Port is documented in the image config (EXPOSE); 0 for none.
	Port int
}

// OwnImages are the images the fixtures run.
func OwnImages(moduleRoot string) []Spec {
	return []Spec{
		{Ref: fixtures.EchoImage, Package: "./fixtures/apps/echo", Dir: moduleRoot, Port: 8080},
		{Ref: fixtures.LoadgenImage, Package: "./fixtures/apps/loadgen", Dir: moduleRoot},
	}
}

// The binary's path in the image and the unprivileged user it runs as.
const (
	BinaryPath = "/app"
	RunAsUser  = "65532:65532"
)

// Build compiles s.Package as a static linux binary (CGO_ENABLED=0) and
// returns an image holding only that binary, entrypoint BinaryPath.
func Build(ctx context.Context, s Spec, log *slog.Logger) (v1.Image, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	arch := s.Arch
	if arch == "" {
		arch = runtime.GOARCH
	}
	tmp, err := os.MkdirTemp("", "meshgate-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "app")
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, s.Package)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("build image %s: go build %s (GOOS=linux GOARCH=%s CGO_ENABLED=0) in %s: %w\n%s", s.Ref, s.Package, arch, dirOrCwd(s.Dir), err, strings.TrimSpace(out.String()))
	}
	log.Info("built binary", "image", s.Ref, "package", s.Package, "elapsed", time.Since(start).Round(time.Millisecond))
	return imageFromBinary(bin, arch, s.Port)
}

func imageFromBinary(bin, arch string, port int) (v1.Image, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	// A fixed time keeps the layer digest stable for the same binary.
	hdr := &tar.Header{Name: strings.TrimPrefix(BinaryPath, "/"), Mode: 0o755, Size: int64(len(data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Uid: 0, Gid: 0}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	raw := layerTar.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Entrypoint = []string{BinaryPath}
	cf.Config.User = RunAsUser
	if port > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{fmt.Sprintf("%d/tcp", port): {}}
	}
	return mutate.ConfigFile(img, cf)
}

// WriteArchive writes img as an image archive (the `docker save` layout
// that containerd imports) tagged ref.
func WriteArchive(path, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	tmp := path + ".tmp"
	if err := tarball.WriteToFile(tmp, tag, img); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write image archive %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// ArchiveName is a file name for an image reference.
func ArchiveName(ref string) string {
	r := strings.NewReplacer("/", "_", ":", "_", "@", "_")
	return r.Replace(ref) + ".tar"
}

func dirOrCwd(d string) string {
	if d == "" {
		return "the working directory"
	}
	return d
}
