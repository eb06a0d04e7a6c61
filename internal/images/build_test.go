package images

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestBuildWritesAnArchiveWithOnlyAStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program; skipped with -short")
	}
	img, err := Build(context.Background(), Spec{Ref: "meshgate/hello:test", Package: "./testdata/hello", Port: 8080}, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), ArchiveName("meshgate/hello:test"))
	if err := WriteArchive(path, "meshgate/hello:test", img); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("meshgate/hello:test")
	back, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatalf("read back %s: %v", path, err)
	}
	cf, err := back.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cf.Config.Entrypoint; len(got) != 1 || got[0] != BinaryPath {
		t.Errorf("entrypoint %v, want [%s]", got, BinaryPath)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s, want linux/%s", cf.OS, cf.Architecture, runtime.GOARCH)
	}
	if cf.Config.User != RunAsUser {
		t.Errorf("user %q, want %q", cf.Config.User, RunAsUser)
	}
	if _, ok := cf.Config.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports %v lack 8080/tcp", cf.Config.ExposedPorts)
	}
	layers, err := back.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1 (empty base, one binary)", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Name != "app" || hdr.Mode&0o111 == 0 {
		t.Errorf("layer entry %q mode %o, want executable app", hdr.Name, hdr.Mode)
	}
	head := make([]byte, 4)
	if _, err := io.ReadFull(tr, head); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(head, []byte("\x7fELF")) {
		t.Errorf("binary starts %q, want an ELF header", head)
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Errorf("layer holds more than the binary (next: %v)", err)
	}
}

func TestBuildNamesThePackageWhenItFails(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build; skipped with -short")
	}
	_, err := Build(context.Background(), Spec{Ref: "meshgate/nope:dev", Package: "./testdata/absent"}, nil)
	if err == nil {
		t.Fatal("a missing package built")
	}
	for _, want := range []string{"meshgate/nope:dev", "./testdata/absent", "CGO_ENABLED=0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestArchiveName(t *testing.T) {
	for ref, want := range map[string]string{
		"meshgate/echo:dev":                    "meshgate_echo_dev.tar",
		"kong:3.9":                             "kong_3.9.tar",
		"mirror.example/kumahq/kuma-cp:2.14.3": "mirror.example_kumahq_kuma-cp_2.14.3.tar",
	} {
		if got := ArchiveName(ref); got != want {
			t.Errorf("ArchiveName(%q) = %q, want %q", ref, got, want)
		}
	}
}
