#!/usr/bin/env bash
# palisade sign/verify model against model_signing 1.x on a generated 2 GB model directory
# (1,000 files of 1 MiB, two of 512 MiB, a config), same run, warm page cache: time and peak RSS.
# Usage: model_sign.sh [PALISADE_BIN] [MODEL_SIGNING_CLI] [WORKDIR]
set -euo pipefail
P=${1:-target/release/palisade}
REF=${2:-target/venv-model-signing/bin/model_signing}
W=${3:-$(mktemp -d)}
mkdir -p "$W/model/shards"
python3 - "$W" <<'PY'
import os, sys
w = sys.argv[1]; rnd = os.urandom(1 << 20)
for i in range(1000):
    open(f"{w}/model/shards/part-{i:04d}.bin", "wb").write(rnd[i % 256:] + rnd[:i % 256])
for j in range(2):
    with open(f"{w}/model/large-{j}.safetensors", "wb") as f:
        for k in range(512): f.write(bytes([k % 251, j]) + rnd[2:])
open(f"{w}/model/config.json", "w").write('{"a":1}')
PY
cd "$W"
openssl ecparam -name prime256v1 -genkey -noout -out k.sec1
openssl pkcs8 -topk8 -nocrypt -in k.sec1 -out key.pem
openssl ec -in key.pem -pubout -out pub.pem 2>/dev/null
cat model/*.safetensors model/shards/* >/dev/null   # warm the page cache for both
t() { /usr/bin/time -f "$1: %e s wall, %U s user + %S s sys, peak RSS %M KiB" "${@:2}" >/dev/null; }
t "model_signing sign  " "$REF" sign key model --private_key key.pem --signature ref.sig
t "palisade sign model " "$P" sign model model --key key.pem --signature pal.sig
t "model_signing verify" "$REF" verify key model --public_key pub.pem --signature pal.sig
t "palisade verify     " "$P" verify model model --key pub.pem --signature ref.sig
t "palisade sign shards" "$P" sign model model --key key.pem --signature pals.sig --method shards
# The floor: SHA-256 (SHA-NI) of the same files by openssl, one process, then two in parallel.
t "openssl sha256 x1   " bash -c 'find model -type f -print0 | xargs -0 -n 2000 openssl dgst -sha256 >/dev/null'
t "openssl sha256 x2   " bash -c 'find model -type f -print0 | xargs -0 -P2 -n 251 openssl dgst -sha256 >/dev/null'
