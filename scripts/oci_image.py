#!/usr/bin/env python3
"""Assembles palisade's own image, reproducibly, with nothing but the Python standard library.

`oci_image.py palisade ...` (scripts/build-image.sh): one layer: /usr/bin/palisade, the CA certificates, /etc/passwd and /etc/group with root and the
non-root user 65532 (no login shell: the image has none), an empty /tmp and /home/nonroot, and
/usr/share/palisade/palisade.cargo-auditable.json: the crates linked into the binary in
cargo-auditable's JSON format (what `palisade sbom` lists as cargo packages). Written as an OCI
layout (OUT/oci), an OCI archive (OUT/palisade.oci.tar) and a docker-archive
(OUT/palisade.docker.tar); OUT/digest is the manifest digest. `oci_image.py rootfs ...`
(examples/iris-model-server/build-image.sh): an image of root filesystem directories.

Reproducible: every timestamp is --epoch (SOURCE_DATE_EPOCH), tar entries are sorted, owned by
0:0 (the user's home by 65532) with fixed modes and no user or group names, gzip carries no
timestamp or file name, and JSON is written with sorted keys and no spaces.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import time

NONROOT = 65532


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_bytes(entries, epoch):
    """entries: (path, kind 'dir'|'file', mode, uid, bytes or None), written sorted by path."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path, kind, mode, uid, data in sorted(entries, key=lambda e: e[0]):
            info = tarfile.TarInfo(path + ("/" if kind == "dir" else ""))
            info.mtime = epoch
            info.mode = mode
            info.uid = info.gid = uid
            info.uname = info.gname = ""
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def gzip_bytes(data):
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as out:
        out.write(data)
    return buffer.getvalue()


def crates(path, version):
    """`cargo tree --prefix none --format {p}` lines -> cargo-auditable packages, root first."""
    packages = []
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        m = re.fullmatch(r"(\S+) v(\S+)(?: \((.*)\))?", line)
        if not m:
            continue
        name, crate_version, where = m.groups()
        if where and where.startswith("/"):
            source = "local"
        elif where:
            source = "git"
        else:
            source = "crates.io"
        packages.append(
            {
                "name": name,
                "version": crate_version,
                "source": source,
                "kind": "runtime",
                "root": name == "palisade",
            }
        )
    if not any(p["name"] == "palisade" for p in packages):
        packages.append(
            {"name": "palisade", "version": version, "source": "local", "kind": "runtime", "root": True}
        )
    packages.sort(key=lambda p: (not p["root"], p["name"], p["version"]))
    return {"packages": packages}


def rootfs_tar(root, epoch):
    """A directory tree as a layer: sorted, every mtime the epoch, owners and modes as on disk
    (the build runs as root), no user or group names, hard links kept as links."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        paths = []
        for directory, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(dirs + files):
                paths.append(os.path.join(directory, name))
        for path in sorted(paths, key=lambda p: os.path.relpath(p, root)):
            relative = os.path.relpath(path, root)
            info = tar.gettarinfo(path, arcname=relative)
            info.mtime = epoch
            info.uname = info.gname = ""
            info.pax_headers = {}
            if info.isreg():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return buffer.getvalue()


def write_image(out, name, layer_tars, image_config, labels, tags, repo_tag, epoch):
    """Writes OUT/oci, OUT/NAME.oci.tar, OUT/NAME.docker.tar and OUT/digest."""
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    layers = [(t, gzip_bytes(t)) for t in layer_tars]
    diff_ids = [sha256(t) for t, _ in layers]
    config = canonical(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": created,
            "config": dict(image_config, Labels=dict(labels, **{"org.opencontainers.image.created": created})),
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": created, "created_by": name + " image build"} for _ in layers],
        }
    )
    manifest = canonical(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha256(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha256(gz),
                    "size": len(gz),
                }
                for _, gz in layers
            ],
            "annotations": {"org.opencontainers.image.created": created},
        }
    )
    digest = sha256(manifest)

    def descriptor(tag):
        return {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest,
            "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }

    index = canonical({"schemaVersion": 2, "manifests": [descriptor(t) for t in tags]})
    layout = canonical({"imageLayoutVersion": "1.0.0"})
    blobs = {sha256(x): x for x in [config, manifest] + [gz for _, gz in layers]}

    oci = os.path.join(out, "oci")
    shutil.rmtree(oci, ignore_errors=True)
    os.makedirs(os.path.join(oci, "blobs", "sha256"))
    for d, data in blobs.items():
        with open(os.path.join(oci, "blobs", "sha256", d[len("sha256:"):]), "wb") as f:
            f.write(data)
    with open(os.path.join(oci, "index.json"), "wb") as f:
        f.write(index)
    with open(os.path.join(oci, "oci-layout"), "wb") as f:
        f.write(layout)

    archive = [("blobs", "dir", 0o755, 0, None), ("blobs/sha256", "dir", 0o755, 0, None)]
    archive += [(f"blobs/sha256/{d[7:]}", "file", 0o644, 0, data) for d, data in sorted(blobs.items())]
    archive += [("index.json", "file", 0o644, 0, index), ("oci-layout", "file", 0o644, 0, layout)]
    with open(os.path.join(out, name + ".oci.tar"), "wb") as f:
        f.write(tar_bytes(archive, epoch))

    config_name = sha256(config)[7:] + ".json"
    layer_names = [d[7:] + "/layer.tar" for d in diff_ids]
    docker_manifest = canonical([{"Config": config_name, "RepoTags": [repo_tag], "Layers": layer_names}])
    docker = [(config_name, "file", 0o644, 0, config), ("manifest.json", "file", 0o644, 0, docker_manifest)]
    for d, (t, _) in zip(diff_ids, layers):
        docker += [(d[7:], "dir", 0o755, 0, None), (d[7:] + "/layer.tar", "file", 0o644, 0, t)]
    with open(os.path.join(out, name + ".docker.tar"), "wb") as f:
        f.write(tar_bytes(docker, epoch))
    with open(os.path.join(out, "digest"), "w") as f:
        f.write(digest + "\n")
    return digest


def palisade_image(args):
    passwd = (
        "root:x:0:0:root:/root:/sbin/nologin\n"
        f"nonroot:x:{NONROOT}:{NONROOT}:nonroot:/home/nonroot:/sbin/nologin\n"
    )
    group = f"root:x:0:\nnonroot:x:{NONROOT}:\n"
    inventory = canonical(crates(args.crates, args.version)) + b"\n"
    files = [
        ("etc", "dir", 0o755, 0, None),
        ("etc/passwd", "file", 0o644, 0, passwd.encode()),
        ("etc/group", "file", 0o644, 0, group.encode()),
        ("etc/ssl", "dir", 0o755, 0, None),
        ("etc/ssl/certs", "dir", 0o755, 0, None),
        ("etc/ssl/certs/ca-certificates.crt", "file", 0o644, 0, open(args.ca_certificates, "rb").read()),
        ("home", "dir", 0o755, 0, None),
        ("home/nonroot", "dir", 0o700, NONROOT, None),
        ("tmp", "dir", 0o1777, 0, None),
        ("usr", "dir", 0o755, 0, None),
        ("usr/bin", "dir", 0o755, 0, None),
        ("usr/bin/palisade", "file", 0o755, 0, open(args.binary, "rb").read()),
        ("usr/share", "dir", 0o755, 0, None),
        ("usr/share/palisade", "dir", 0o755, 0, None),
        ("usr/share/palisade/palisade.cargo-auditable.json", "file", 0o644, 0, inventory),
    ]
    labels = {
        "org.opencontainers.image.title": "palisade",
        "org.opencontainers.image.version": args.version,
        "org.opencontainers.image.revision": args.commit,
        "org.opencontainers.image.licenses": "Apache-2.0",
    }
    config = {
        "User": f"{NONROOT}:{NONROOT}",
        "Entrypoint": ["/usr/bin/palisade"],
        "Env": ["PATH=/usr/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt", "HOME=/home/nonroot"],
        "WorkingDir": "/",
    }
    write_image(
        args.out, "palisade", [tar_bytes(files, args.epoch)], config, labels,
        ["latest", args.version], f"palisade/palisade:{args.version}", args.epoch,
    )


def rootfs_image(args):
    config = {
        "User": args.user,
        "Env": args.env,
        "Cmd": json.loads(args.cmd),
        "WorkingDir": args.workdir,
        "ExposedPorts": {p: {} for p in args.expose},
    }
    labels = dict(label.split("=", 1) for label in args.label)
    write_image(
        args.out, args.name, [rootfs_tar(r, args.epoch) for r in args.rootfs], config, labels,
        args.tag, args.repo_tag, args.epoch,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("palisade", help="palisade's own image (scripts/build-image.sh)")
    p.add_argument("--binary", required=True)
    p.add_argument("--ca-certificates", required=True)
    p.add_argument("--crates", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--commit", required=True)
    p.add_argument("--epoch", type=int, required=True)
    p.add_argument("--out", required=True)
    r = sub.add_parser("rootfs", help="an image of root filesystem directories, one layer each")
    r.add_argument("--rootfs", action="append", required=True)
    r.add_argument("--name", required=True)
    r.add_argument("--user", required=True)
    r.add_argument("--env", action="append", default=[])
    r.add_argument("--cmd", required=True, help="a JSON array")
    r.add_argument("--workdir", default="/")
    r.add_argument("--expose", action="append", default=[])
    r.add_argument("--label", action="append", default=[])
    r.add_argument("--tag", action="append", required=True)
    r.add_argument("--repo-tag", required=True)
    r.add_argument("--epoch", type=int, required=True)
    r.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    (palisade_image if args.mode == "palisade" else rootfs_image)(args)


if __name__ == "__main__":
    main()
