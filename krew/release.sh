#!/usr/bin/env bash
# Builds the release archives and renders the krew index manifests.
#
#   krew/release.sh v0.1.0 [TARGET ...]       (default target: the host's)
#
# Each archive `dist/kubectl-guardrails_<version>_<target>.tar.gz` holds every plugin binary
# (named as kubectl looks them up), LICENSE and README.md, flat, regular files only (krew
# refuses symlinks). Every manifest points each platform at the same archive and extracts only
# its own binary. Set BIN_DIR to package already-built binaries (the tests do) instead of
# building with cargo. The rendered krew/plugins/*.yaml are then published as the root of the
# index repository (see krew/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:?usage: krew/release.sh vX.Y.Z [TARGET ...]}
shift
[[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+ ]] || { echo "version must look like v1.2.3" >&2; exit 2; }
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("$(rustc -vV | sed -n 's/^host: //p')")
base_url=${BASE_URL:-https://github.com/kubectl-guardrails/kubectl-guardrails/releases/download/$version}
# Every plugin with a krew template and a crate.
plugins=()
for template in krew/templates/*.yaml; do
  p=$(basename "$template" .yaml)
  [ -d "plugins/$p" ] && plugins+=("$p")
done
dist=${DIST_DIR:-dist}
out=${KREW_OUT:-krew/plugins}
mkdir -p "$dist" "$out"

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

declare -A platform_yaml
for target in "${targets[@]}"; do
  read -r os arch < <(krew_platform "$target")
  ext=""; [ "$os" = windows ] && ext=".exe"
  bin_dir=${BIN_DIR:-target/$target/release}
  if [ -z "${BIN_DIR:-}" ]; then
    cargo build --release --locked --target "$target" $(printf -- '-p kubectl-%s ' "${plugins[@]}")
  fi
  stage=$(mktemp -d)
  for p in "${plugins[@]}"; do
    cp "$bin_dir/kubectl-${p//-/_}$ext" "$bin_dir/kubectl_complete-${p//-/_}$ext" "$stage/"
  done
  cp LICENSE README.md "$stage/"
  archive="kubectl-guardrails_${version}_${target}.tar.gz"
  # Reproducible: sorted names, fixed owner and mtime.
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$stage" -czf "$dist/$archive" .
  rm -rf "$stage"
  sha=$(sha256sum "$dist/$archive" | cut -d' ' -f1)
  for p in "${plugins[@]}"; do
    bin="kubectl-${p//-/_}$ext"
    platform_yaml[$p]+="  - selector:
      matchLabels:
        os: $os
        arch: $arch
    uri: $base_url/$archive
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

for p in "${plugins[@]}"; do
  body=${platform_yaml[$p]}
  awk -v version="$version" -v platforms="${body%$'\n'}" \
    '{ gsub(/\{\{VERSION\}\}/, version); if ($0 == "{{PLATFORMS}}") print platforms; else print }' \
    "krew/templates/$p.yaml" > "$out/$p.yaml"
  echo "wrote $out/$p.yaml"
done
