#!/usr/bin/env bash
# Builds the release archives and renders the krew index manifests.
#
#   krew/release.sh package VERSION [TARGET ...]   build + archive each target into dist/
#   krew/release.sh index VERSION                  render krew/plugins/*.yaml from dist/
#   krew/release.sh VERSION [TARGET ...]           both (default target: the host's)
#
# Each archive `dist/kubectl-guardrails_<version>_<target>.tar.gz` holds every plugin binary
# and its completion helper (named as kubectl looks them up), LICENSE and README.md, flat,
# regular files only (krew refuses symlinks). Every manifest points each platform at that
# platform's archive and extracts only its own files. The release workflow packages each target
# on its own runner, then renders the index once from all the archives.
#
# Environment: BIN_DIR packages already-built binaries instead of building (the tests do);
# DIST_DIR (default dist), KREW_OUT (default krew/plugins), BASE_URL (where archives are
# downloaded from; default: the GitHub release of VERSION).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: krew/release.sh [package|index] vX.Y.Z [TARGET ...]" >&2; exit 2; }
mode=all
case "${1:-}" in
  package | index) mode=$1; shift ;;
esac
version=${1:-}
[ -n "$version" ] || usage
shift
[[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || { echo "version must look like v1.2.3, not $version" >&2; exit 2; }
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("$(rustc -vV | sed -n 's/^host: //p')")
base_url=${BASE_URL:-https://github.com/kubectl-guardrails/kubectl-guardrails/releases/download/$version}
dist=${DIST_DIR:-dist}
out=${KREW_OUT:-krew/plugins}

# Every plugin with a krew template and a crate.
plugins=()
for template in krew/templates/*.yaml; do
  p=$(basename "$template" .yaml)
  [ -d "plugins/$p" ] && plugins+=("$p")
done

krew_platform() { # rust target triple -> "os arch"
  case "$1" in
    x86_64-unknown-linux-*) echo "linux amd64" ;;
    aarch64-unknown-linux-*) echo "linux arm64" ;;
    x86_64-apple-darwin) echo "darwin amd64" ;;
    aarch64-apple-darwin) echo "darwin arm64" ;;
    x86_64-pc-windows-*) echo "windows amd64" ;;
    *) echo "unsupported target $1" >&2; exit 2 ;;
  esac
}

package() {
  local target=$1 os arch ext="" bin_dir stage archive
  read -r os arch < <(krew_platform "$target")
  [ "$os" = windows ] && ext=".exe"
  bin_dir=${BIN_DIR:-target/$target/release}
  if [ -z "${BIN_DIR:-}" ]; then
    cargo build --release --locked --target "$target" $(printf -- '-p kubectl-%s ' "${plugins[@]}")
  fi
  stage=$(mktemp -d)
  for p in "${plugins[@]}"; do
    cp "$bin_dir/kubectl-${p//-/_}$ext" "$bin_dir/kubectl_complete-${p//-/_}$ext" "$stage/"
  done
  cp LICENSE README.md "$stage/"
  mkdir -p "$dist"
  archive="kubectl-guardrails_${version}_${target}.tar.gz"
  # Reproducible: sorted names, fixed owner and mtime.
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$stage" -czf "$dist/$archive" .
  rm -rf "$stage"
  echo "packaged $dist/$archive"
}

index() {
  local archives=() archive target os arch ext sha p bin
  shopt -s nullglob
  archives=("$dist"/kubectl-guardrails_"${version}"_*.tar.gz)
  shopt -u nullglob
  [ ${#archives[@]} -gt 0 ] || { echo "no archives for $version in $dist/" >&2; exit 3; }
  declare -A platform_yaml
  # One platform entry per os/arch: if both gnu and musl builds exist, the first (sorted) wins.
  declare -A seen
  for archive in "${archives[@]}"; do
    target=${archive##*_"${version}"_}
    target=${target%.tar.gz}
    read -r os arch < <(krew_platform "$target")
    [ -z "${seen[$os/$arch]:-}" ] || continue
    seen[$os/$arch]=1
    ext=""; [ "$os" = windows ] && ext=".exe"
    sha=$(sha256sum "$archive" | cut -d' ' -f1)
    for p in "${plugins[@]}"; do
      bin="kubectl-${p//-/_}$ext"
      platform_yaml[$p]+="  - selector:
      matchLabels:
        os: $os
        arch: $arch
    uri: $base_url/$(basename "$archive")
    sha256: \"$sha\"
    files:
    - from: $bin
      to: .
    - from: kubectl_complete-${p//-/_}$ext
      to: .
    - from: LICENSE
      to: .
    bin: $bin
"
    done
  done
  mkdir -p "$out"
  for p in "${plugins[@]}"; do
    body=${platform_yaml[$p]}
    awk -v version="$version" -v platforms="${body%$'\n'}" \
      '{ gsub(/\{\{VERSION\}\}/, version); if ($0 == "{{PLATFORMS}}") print platforms; else print }' \
      "krew/templates/$p.yaml" > "$out/$p.yaml"
    echo "wrote $out/$p.yaml"
  done
}

if [ "$mode" != index ]; then
  for target in "${targets[@]}"; do package "$target"; done
fi
if [ "$mode" != package ]; then
  index
fi
