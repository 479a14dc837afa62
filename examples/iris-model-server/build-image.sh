#!/usr/bin/env bash
# Builds the iris model server (app/) into a real container image without Docker, on the approach
# of ../shared/tools/build-ml-image.sh: Debian 12 minbase by debootstrap, a venv with
# app/requirements.txt from PyPI wheels, the model trained at build time with scikit-learn
# (app/train.py), and a non-root numeric USER 10001:10001 (the UID the manifests run as).
# Written by scripts/oci_image.py (no umoci needed) as an OCI layout, an OCI archive and a
# docker-archive, with fixed timestamps (SOURCE_DATE_EPOCH).
#
#   usage: examples/iris-model-server/build-image.sh OUTDIR   (as root; a few minutes; needs the
#          Debian mirror and PyPI)
#   then:  OUTDIR/oci (tags latest, 1), OUTDIR/iris.oci.tar, OUTDIR/iris.docker.tar,
#          OUTDIR/digest, OUTDIR/model/model.joblib (the trained model, for `palisade scan model`)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:?usage: build-image.sh OUTDIR}
mkdir -p "$out"; out=$(cd "$out" && pwd)
[ "$(id -u)" = 0 ] || { echo "build-image.sh: debootstrap and chroot need root" >&2; exit 1; }
command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 0)}

# the Debian mirror this machine's apt already uses (else deb.debian.org)
mirror=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | awk '$1=="URIs:" || $1=="deb" {print $2; exit}' || true)
mirror=${mirror:-http://deb.debian.org/debian}
base="$out/base"
if [ ! -x "$base/usr/bin/python3" ]; then
  rm -rf "$base"
  debootstrap --variant=minbase --include=python3,python3-venv bookworm "$base" "$mirror" >"$out/debootstrap.log"
  rm -rf "$base/var/lib/apt/lists/"* "$base/var/cache/apt/"*.bin "$base/var/log/"* "$base/dev/"*
fi

# Layer 2: the app, its venv and the model.
app="$out/app-layer"
rm -rf "$app" && mkdir -p "$app/opt" "$app/app" "$base/wheels"
pip download -q --only-binary=:all: --python-version 3.11 --platform manylinux2014_x86_64 \
  -d "$base/wheels" -r "$here/app/requirements.txt"
cp "$here/app/requirements.txt" "$base/wheels/requirements.txt"
rm -rf "$base/opt/venv"
chroot "$base" python3 -m venv /opt/venv
chroot "$base" /opt/venv/bin/pip install -q --no-index --find-links /wheels -r /wheels/requirements.txt
cp "$here/app/train.py" "$base/wheels/train.py"
chroot "$base" /opt/venv/bin/python /wheels/train.py /wheels/model.joblib
mv "$base/opt/venv" "$app/opt/venv"
cp "$here/app/app.py" "$app/app/app.py"
cp "$base/wheels/model.joblib" "$app/app/model.joblib"
rm -rf "$base/wheels"
find "$app/opt/venv" -name __pycache__ -prune -exec rm -rf {} +
# a home for the non-root user, as the kubelet expects none: the UID needs no passwd entry, but
# one makes `id` and tools that look the user up behave
grep -q '^app:' "$base/etc/passwd" || echo 'app:x:10001:10001:iris model server:/app:/usr/sbin/nologin' >> "$base/etc/passwd"
grep -q '^app:' "$base/etc/group" || echo 'app:x:10001:' >> "$base/etc/group"
mkdir -p "$out/model" && cp "$app/app/model.joblib" "$out/model/model.joblib"

python3 "$repo/scripts/oci_image.py" rootfs --rootfs "$base" --rootfs "$app" --name iris \
  --user 10001:10001 --workdir /app \
  --env PATH=/opt/venv/bin:/usr/bin:/bin --env MODEL_PATH=/app/model.joblib \
  --cmd '["gunicorn", "--bind", "0.0.0.0:8080", "--workers", "2", "app:app"]' --expose 8080/tcp \
  --label org.opencontainers.image.title=iris-model-server \
  --tag latest --tag 1 --repo-tag ml/iris-server:1 \
  --epoch "$SOURCE_DATE_EPOCH" --out "$out"
echo "built: $out/oci (tags latest, 1), $out/iris.oci.tar, $out/iris.docker.tar; digest $(cat "$out/digest")"
