package images

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// CacheDir is where pulled upstream image archives are kept between runs.
func CacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "meshgate", "images")
}

// Pull fetches ref for linux/arch into an archive under cacheDir, once: an
// archive already there is reused. It returns the archive's path.
func Pull(ctx context.Context, ref, arch, cacheDir string, log *slog.Logger) (string, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if arch == "" {
		arch = runtime.GOARCH
	}
	path := filepath.Join(cacheDir, arch, ArchiveName(ref))
	if _, err := os.Stat(path); err == nil {
		log.Debug("image archive cached", "image", ref, "path", path)
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	start := time.Now()
	img, err := crane.Pull(ref, crane.WithContext(ctx), crane.WithPlatform(&v1.Platform{OS: "linux", Architecture: arch}))
	if err != nil {
		return "", fmt.Errorf("pull %s (linux/%s): %w; behind a mirror, pass --image-mirror PREFIX", ref, arch, err)
	}
	if err := WriteArchive(path, ref, img); err != nil {
		return "", err
	}
	log.Info("pulled image", "image", ref, "elapsed", time.Since(start).Round(time.Second))
	return path, nil
}
