#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver and etcd) from Go modules
# and prints the folder to use as KUBEBUILDER_ASSETS. Release tarballs are not
# needed: only the Go module proxy. A folder already holding these versions is
# reused, so the build runs once per version change.
#
# --sim builds the rest of the simulated cluster instead (internal/kubetest
# StartSim): kube-controller-manager and kube-scheduler at the same Kubernetes
# version, kwok, and kwok-stages.yaml, kwok's default node and pod lifecycles
# generated from the Stage packages its Go module ships.
#
#   hack/envtest-assets.sh [--sim]             build if missing, print the folder
#   hack/envtest-assets.sh [--sim] --if-built  print the folder only if built
#   MESHGATE_ENVTEST_DIR=dir ...               build the envtest assets into dir
#   MESHGATE_SIM_DIR=dir ... --sim             build the sim assets into dir
set -euo pipefail

KUBE_VERSION=1.37.2
ETCD_VERSION=3.7.3
KWOK_VERSION=0.8.0
KUBE_MINOR=${KUBE_VERSION#*.}; KUBE_MINOR=${KUBE_MINOR%%.*}

sim=false if_built=false
for arg in "$@"; do
  case "$arg" in
    --sim) sim=true ;;
    --if-built) if_built=true ;;
    *) echo "envtest-assets: unknown argument $arg (use --sim, --if-built)" >&2; exit 2 ;;
  esac
done

cache=${XDG_CACHE_HOME:-$HOME/.cache}
if $sim; then
  dest=${MESHGATE_SIM_DIR:-$cache/meshgate/envtest/sim-k8s-$KUBE_VERSION-kwok-$KWOK_VERSION}
  stamp="$dest/.built-k8s-$KUBE_VERSION-kwok-$KWOK_VERSION"
  bins=(kube-controller-manager kube-scheduler kwok kwok-stages.yaml)
else
  dest=${MESHGATE_ENVTEST_DIR:-$cache/meshgate/envtest/k8s-$KUBE_VERSION-etcd-$ETCD_VERSION}
  stamp="$dest/.built-k8s-$KUBE_VERSION-etcd-$ETCD_VERSION"
  bins=(kube-apiserver etcd)
fi

log() { echo "envtest-assets: $*" >&2; }

built() {
  [[ -f "$stamp" ]] || return 1
  local b
  for b in "${bins[@]}"; do [[ -s "$dest/$b" ]] || return 1; done
}

if built; then
  echo "$dest"
  exit 0
fi
$if_built && exit 0

command -v go >/dev/null || { log "go is not on PATH; install Go 1.26 first"; exit 1; }
mkdir -p "$dest"

# One build at a time: a second caller waits for the first, then reuses it.
if command -v flock >/dev/null; then
  exec 9>"$dest.lock"
  flock 9
  if built; then
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

# build_kube CMD... builds k8s.io/kubernetes/cmd/CMD for each CMD into $dest.
build_kube() {
  local dir="$work/kube"
  mkdir -p "$dir"
  # k8s.io/kubernetes refers to its staging modules by relative path; pin each
  # one to the published module of the same version instead.
  local gomod
  gomod=$(cd "$dir" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" |
    sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [[ -f "$gomod" ]] || { log "could not download k8s.io/kubernetes@v$KUBE_VERSION"; return 1; }
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    local cmd
    for cmd in "$@"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$cmd"; done
    printf ')\n'
  } >"$dir/tools.go"
  (cd "$dir" &&
    go mod init meshgate.local/envtest-kube >/dev/null 2>&1 &&
    go mod edit -godebug=default=go1.24 -require="k8s.io/kubernetes@v$KUBE_VERSION")
  local mod
  for mod in $(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod"); do
    case "$mod" in k8s.io/sample-apiserver|k8s.io/sample-cli-plugin|k8s.io/sample-controller) continue ;; esac
    (cd "$dir" && go mod edit -replace="$mod=$mod@v0.$KUBE_MINOR.${KUBE_VERSION##*.}")
  done
  local pkg=k8s.io/component-base/version
  (cd "$dir" && go mod tidy -e >/dev/null 2>&1) || return 1
  for cmd in "$@"; do
    (cd "$dir" &&
      CGO_ENABLED=0 go build -trimpath -tags tools \
        -ldflags "-X $pkg.gitVersion=v$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$KUBE_MINOR -X $pkg.gitTreeState=clean" \
        -o "$dest/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd" &&
      mv "$dest/$cmd.tmp" "$dest/$cmd") || return 1
    log "$cmd ready after $((SECONDS - start))s"
  done
}

# build_kwok builds kwok and writes its default stages (fast node start,
# heartbeat with lease, fast pod lifecycle) from the packages its module
# ships, so no stage file is copied into this repository.
build_kwok() {
  local dir="$work/kwok"
  mkdir -p "$dir"
  cat >"$dir/main.go" <<'GO'
package main

import (
	"fmt"

	nodefast "sigs.k8s.io/kwok/kustomize/stage/node/fast"
	nodelease "sigs.k8s.io/kwok/kustomize/stage/node/heartbeat-with-lease"
	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"
)

func main() {
	for _, s := range []string{nodefast.DefaultNodeInit, nodelease.DefaultNodeHeartbeatWithLease,
		podfast.DefaultPodReady, podfast.DefaultPodComplete, podfast.DefaultPodDelete} {
		fmt.Printf("---\n%s\n", s)
	}
}
GO
  printf '//go:build tools\n\npackage main\n\nimport _ "sigs.k8s.io/kwok/cmd/kwok"\n' >"$dir/tools.go"
  (cd "$dir" &&
    go mod init meshgate.local/sim-kwok >/dev/null 2>&1 &&
    go mod edit -require="sigs.k8s.io/kwok@v$KWOK_VERSION" &&
    go mod tidy >/dev/null 2>&1 &&
    go run . >"$dest/kwok-stages.yaml.tmp" &&
    mv "$dest/kwok-stages.yaml.tmp" "$dest/kwok-stages.yaml" &&
    CGO_ENABLED=0 go build -trimpath -o "$dest/kwok.tmp" sigs.k8s.io/kwok/cmd/kwok &&
    mv "$dest/kwok.tmp" "$dest/kwok")
}

start=$SECONDS
if $sim; then
  log "building kwok $KWOK_VERSION, kube-controller-manager and kube-scheduler $KUBE_VERSION into $dest (first time: about 15 minutes on 2 cores)"
  build_kwok || { log "kwok build failed"; exit 1; }
  log "kwok ready after $((SECONDS - start))s"
  build_kube kube-controller-manager kube-scheduler || { log "kube-controller-manager/kube-scheduler build failed"; exit 1; }
else
  log "building etcd $ETCD_VERSION and kube-apiserver $KUBE_VERSION into $dest (first time: about 5 minutes)"
  build_etcd || { log "etcd build failed"; exit 1; }
  log "etcd ready after $((SECONDS - start))s"
  build_kube kube-apiserver || { log "kube-apiserver build failed"; exit 1; }
fi
touch "$stamp"
echo "$dest"
