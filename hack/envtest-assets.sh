#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver and etcd) from Go modules
# and prints the folder to use as KUBEBUILDER_ASSETS. Release tarballs are not
# needed: only the Go module proxy. A folder already holding these versions is
# reused, so the build runs once per version change.
#
#   hack/envtest-assets.sh            build if missing, print the folder
#   MESHGATE_ENVTEST_DIR=dir ...      build into dir instead of the user cache
set -euo pipefail

KUBE_VERSION=1.37.2
ETCD_VERSION=3.7.3
KUBE_MINOR=${KUBE_VERSION#*.}; KUBE_MINOR=${KUBE_MINOR%%.*}

cache=${XDG_CACHE_HOME:-$HOME/.cache}
dest=${MESHGATE_ENVTEST_DIR:-$cache/meshgate/envtest/k8s-$KUBE_VERSION-etcd-$ETCD_VERSION}
stamp="$dest/.built-k8s-$KUBE_VERSION-etcd-$ETCD_VERSION"

log() { echo "envtest-assets: $*" >&2; }

if [[ -f "$stamp" && -x "$dest/kube-apiserver" && -x "$dest/etcd" ]]; then
  echo "$dest"
  exit 0
fi

command -v go >/dev/null || { log "go is not on PATH; install Go 1.26 first"; exit 1; }
mkdir -p "$dest"

# One build at a time: a second caller waits for the first, then reuses it.
if command -v flock >/dev/null; then
  exec 9>"$dest.lock"
  flock 9
  if [[ -f "$stamp" ]]; then
    echo "$dest"
    exit 0
  fi
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

build_etcd() {
  local dir="$work/etcd"
  mkdir -p "$dir"
  cat >"$dir/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$dir" &&
    go mod init meshgate.local/envtest-etcd >/dev/null 2>&1 &&
    go mod edit -require="go.etcd.io/etcd/server/v3@v$ETCD_VERSION" &&
    go mod tidy >/dev/null 2>&1 &&
    CGO_ENABLED=0 go build -trimpath -o "$dest/etcd.tmp" . &&
    mv "$dest/etcd.tmp" "$dest/etcd")
}

build_kube_apiserver() {
  local dir="$work/kube"
  mkdir -p "$dir"
  # k8s.io/kubernetes refers to its staging modules by relative path; pin each
  # one to the published module of the same version instead.
  local gomod
  gomod=$(cd "$dir" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" |
    sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [[ -f "$gomod" ]] || { log "could not download k8s.io/kubernetes@v$KUBE_VERSION"; return 1; }
  cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO
  (cd "$dir" &&
    go mod init meshgate.local/envtest-kube >/dev/null 2>&1 &&
    go mod edit -godebug=default=go1.24 -require="k8s.io/kubernetes@v$KUBE_VERSION")
  local mod
  for mod in $(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod"); do
    case "$mod" in k8s.io/sample-apiserver|k8s.io/sample-cli-plugin|k8s.io/sample-controller) continue ;; esac
    (cd "$dir" && go mod edit -replace="$mod=$mod@v0.$KUBE_MINOR.${KUBE_VERSION##*.}")
  done
  local pkg=k8s.io/component-base/version
  (cd "$dir" &&
    go mod tidy -e >/dev/null 2>&1 &&
    CGO_ENABLED=0 go build -trimpath -tags tools \
      -ldflags "-X $pkg.gitVersion=v$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$KUBE_MINOR -X $pkg.gitTreeState=clean" \
      -o "$dest/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver &&
    mv "$dest/kube-apiserver.tmp" "$dest/kube-apiserver")
}

start=$SECONDS
log "building etcd $ETCD_VERSION and kube-apiserver $KUBE_VERSION into $dest (first time: about 5 minutes)"
build_etcd || { log "etcd build failed"; exit 1; }
log "etcd ready after $((SECONDS - start))s"
build_kube_apiserver || { log "kube-apiserver build failed"; exit 1; }
log "kube-apiserver ready after $((SECONDS - start))s"
touch "$stamp"
echo "$dest"
