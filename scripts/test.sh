#!/usr/bin/env bash
# The README's test command: installs what the tests need when it is missing, then runs every
# test of the workspace (`cargo test --workspace`).
#
# What the tests use beyond cargo: docker-registry (the CNCF distribution registry, started by
# ../shared/tools/local-registry.sh), skopeo (pushes test images), curl (local-registry.sh waits
# for the registry with it), python3 (the reference for what a pickle executes, and the image
# writer scripts/oci_image.py), and the reference model_signing and check-jsonschema (which
# validates palisade's CycloneDX against the vendored CycloneDX 1.6 schema) from PyPI (in a venv
# under target/). On Debian and Ubuntu the missing ones are installed with apt-get
# (as root, or through sudo); elsewhere the script names the packages and stops.
#
#   usage: scripts/test.sh [ARGS...]       ARGS go to cargo test
#   PALISADE_TEST_NO_INSTALL=1             only check, never install
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package
declare -A packages=([docker-registry]=docker-registry [skopeo]=skopeo [curl]=curl [python3]=python3)
missing=()
for tool in docker-registry skopeo curl python3; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${packages[$tool]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "${PALISADE_TEST_NO_INSTALL:-}" != 1 ] && command -v apt-get >/dev/null 2>&1; then
    sudo=()
    if [ "$(id -u)" != 0 ]; then
      command -v sudo >/dev/null 2>&1 || { echo "scripts/test.sh: needs root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
      sudo=(sudo)
    fi
    echo "scripts/test.sh: installing ${missing[*]} (apt-get)" >&2
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    for tool in docker-registry skopeo curl python3; do
      command -v "$tool" >/dev/null 2>&1 || { echo "scripts/test.sh: $tool is still missing after apt-get install" >&2; exit 1; }
    done
  else
    echo "scripts/test.sh: the tests need these tools, which are missing: ${missing[*]}" >&2
    echo "  Debian/Ubuntu: apt-get install docker-registry skopeo curl python3" >&2
    echo "  Fedora/RHEL:   dnf install distribution skopeo curl python3   (the registry binary is 'registry'; link it as docker-registry)" >&2
    echo "  macOS:         brew install distribution skopeo              (same: docker-registry on PATH)" >&2
    exit 1
  fi
fi
# The reference implementation of OpenSSF Model Signing, model_signing 1.x from PyPI, in a venv
# under target/ (crates/palisade/tests/model_signing_interop.rs signs and verifies against it).
# pyopenssl too: model_signing 1.1.1 imports it without declaring it.
if [ ! -x target/venv-model-signing/bin/model_signing ]; then
  if ! python3 -c 'import ensurepip' 2>/dev/null; then
    if [ "${PALISADE_TEST_NO_INSTALL:-}" != 1 ] && command -v apt-get >/dev/null 2>&1; then
      sudo=()
      [ "$(id -u)" = 0 ] || sudo=(sudo)
      "${sudo[@]}" apt-get update -qq
      DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    else
      echo "scripts/test.sh: python3's venv module is missing (Debian/Ubuntu: apt-get install python3-venv)" >&2
      exit 1
    fi
  fi
  echo "scripts/test.sh: installing model_signing (PyPI) into target/venv-model-signing" >&2
  python3 -m venv target/venv-model-signing
  target/venv-model-signing/bin/pip install -q model-signing pyopenssl
fi
if ! command -v check-jsonschema >/dev/null 2>&1 && [ ! -x target/venv-model-signing/bin/check-jsonschema ]; then
  echo "scripts/test.sh: installing check-jsonschema (PyPI) into target/venv-model-signing" >&2
  target/venv-model-signing/bin/pip install -q check-jsonschema==0.39.0
fi
for corpus in ../shared/conformance/pod-security/MANIFEST.tsv ../shared/vulndata/pypa-advisories/README.md; do
  test -f "$corpus" || { echo "scripts/test.sh: missing $corpus (the test corpora sit beside this repository)" >&2; exit 1; }
done

cargo test --workspace "$@"
