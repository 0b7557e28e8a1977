#!/usr/bin/env bash
# build.sh builds dninode as a static binary and the dni image around it,
# without pulling anything: the image is FROM scratch.
#
#   deploy/docker/build.sh              # tags dni:<version> and dni:latest
#   IMAGE=dni:test deploy/docker/build.sh
#
# VERSION (default: git describe) is stamped into the binary (dninode
# --version) and the image's labels. GOARCH picks the image's architecture
# (default: this host's).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
version=${VERSION:-$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)}
ca=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -r "$ca" ] || { echo "build.sh: no CA bundle at $ca (set CA_BUNDLE; Debian: apt-get install ca-certificates)" >&2; exit 1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
(cd "$root" && CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$ctx/dninode" ./cmd/dninode)
cp "$ca" "$ctx/ca-certificates.crt"
printf 'root:x:0:0:root:/:/sbin/nologin\ndni:x:65532:65532:dni:/data:/sbin/nologin\n' >"$ctx/passwd"
printf 'root:x:0:\ndni:x:65532:\n' >"$ctx/group"
mkdir "$ctx/data"
cp "$root/deploy/docker/Dockerfile" "$ctx/Dockerfile"

tags=(-t "${IMAGE:-dni:$version}")
[ -n "${IMAGE:-}" ] || tags+=(-t dni:latest)
docker build --quiet --build-arg VERSION="$version" "${tags[@]}" "$ctx" >/dev/null
echo "built ${IMAGE:-dni:$version} (dninode $version)"
