#!/usr/bin/env bash
# palisade's own container image, built without Docker: a static release binary (glibc with
# crt-static), the build host's CA certificates, a non-root user 65532 in /etc/passwd and
# /etc/group, no shell, and an SBOM record of the binary's crates. Written as an OCI layout
# (OUTDIR/oci, tag latest and the version), an OCI archive and a docker-archive.
#
#   usage: scripts/build-image.sh [--binary PATH] OUTDIR
#
# Reproducible: the same source (and toolchain) gives the same digest. Timestamps are
# SOURCE_DATE_EPOCH (default: the last commit's time), tar entries are sorted with uid/gid 0 and
# fixed modes, gzip has no timestamp or name, JSON is written with sorted keys. OUTDIR/digest
# holds the manifest digest. --binary reuses a binary built before (as the tests do) instead of
# compiling; the binary's crate list is still read from Cargo.lock by `cargo tree`.
#
# Push it and pin it by digest: see deploy/README.md ("palisade's image").
set -euo pipefail
cd "$(dirname "$0")/.."
binary=
if [ "${1:-}" = "--binary" ]; then binary=${2:?--binary PATH}; shift 2; fi
out=${1:?usage: scripts/build-image.sh [--binary PATH] OUTDIR}
mkdir -p "$out"; out=$(cd "$out" && pwd)

target=x86_64-unknown-linux-gnu
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
export PALISADE_GIT_COMMIT=${PALISADE_GIT_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
if [ -z "$binary" ]; then
  # Target artefacts only (build scripts and proc-macros are host artefacts, shared with an
  # ordinary release build); paths remapped so the binary does not name this checkout.
  RUSTFLAGS="-C target-feature=+crt-static --remap-path-prefix=$PWD=/palisade --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo" \
    cargo build --release --locked -p palisade --target "$target"
  binary=target/$target/release/palisade
fi
file_type=$(od -An -c -N4 "$binary" | tr -d ' ')
[ "$file_type" = "177ELF" ] || { echo "$binary is not an ELF binary" >&2; exit 1; }
if command -v readelf >/dev/null && readelf -l "$binary" | grep -q 'INTERP'; then
  echo "warning: $binary is dynamically linked; the image has no libc (build without --binary for a static one)" >&2
fi

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# The crates linked into the binary: normal dependencies as resolved for this target, without
# dev-dependencies, build dependencies or proc-macros (which run at compile time only).
cargo tree --locked -p palisade -e normal,no-proc-macro --target "$target" --prefix none \
  --format '{p}' | sed 's/ (\*)$//' | sort -u > "$out/crates.txt"

python3 scripts/oci_image.py palisade \
  --binary "$binary" \
  --ca-certificates "${CA_CERTIFICATES:-/etc/ssl/certs/ca-certificates.crt}" \
  --crates "$out/crates.txt" \
  --version "$version" --commit "$PALISADE_GIT_COMMIT" \
  --epoch "$SOURCE_DATE_EPOCH" \
  --out "$out"
echo "built: $out/oci (tags latest, $version), $out/palisade.oci.tar, $out/palisade.docker.tar; digest $(cat "$out/digest")"
