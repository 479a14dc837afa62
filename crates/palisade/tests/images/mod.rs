//! Small real images, built by the tests themselves in every form palisade reads: layers with a
//! real Debian dpkg status and real dist-info metadata (tests/fixtures/image, copied from a Debian
//! 12 root and from the wheels of Flask 2.2.2 and its dependencies), a whiteout, and an opaque
//! directory whose new content comes before its marker in the tar stream.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

pub const SITE: &str = "opt/venv/lib/python3.11/site-packages";

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/image")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[derive(Clone)]
pub enum Item {
    File(String, Vec<u8>),
    Dir(String),
    Symlink(String, String),
    /// A hard link to a path in the image (this layer's or a lower one's).
    HardLink(String, String),
    /// A file whose name goes into the tar header as written, `..` included (the tar crate
    /// refuses to write such names; runtimes clean and extract them).
    RawFile(String, Vec<u8>),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// The four layers: base, venv, whiteout, opaque.
pub fn layers() -> Vec<Vec<Item>> {
    let file = |p: &str, c: Vec<u8>| Item::File(p.to_owned(), c);
    let meta = |dir: &str, fixture_name: &str| {
        file(
            &format!("{SITE}/{dir}/METADATA"),
            self::fixture(fixture_name),
        )
    };
    vec![
        vec![
            Item::Dir("etc".into()),
            Item::Symlink("etc/os-release".into(), "../usr/lib/os-release".into()),
            Item::Dir("usr/lib".into()),
            file("usr/lib/os-release", fixture("os-release")),
            Item::Dir("var/lib/dpkg".into()),
            file("var/lib/dpkg/status", fixture("dpkg-status")),
            file("usr/share/doc/base-files/README", b"docs".to_vec()),
        ],
        vec![
            Item::Dir(SITE.into()),
            meta("Flask-2.2.2.dist-info", "Flask-2.2.2.METADATA"),
            meta("Werkzeug-2.2.2.dist-info", "Werkzeug-2.2.2.METADATA"),
            meta("Jinja2-3.1.2.dist-info", "Jinja2-3.1.2.METADATA"),
            meta(
                "itsdangerous-2.1.2.dist-info",
                "itsdangerous-2.1.2.METADATA",
            ),
            file(
                "opt/plugins/site-packages/oldplugin-0.1.dist-info/METADATA",
                b"Metadata-Version: 2.1\nName: oldplugin\nVersion: 0.1\n".to_vec(),
            ),
        ],
        vec![file(
            &format!("{SITE}/.wh.itsdangerous-2.1.2.dist-info"),
            Vec::new(),
        )],
        // New content first, then the opaque marker: the marker hides only lower layers.
        vec![
            file(
                "opt/plugins/site-packages/newplugin-1.0.dist-info/METADATA",
                b"Metadata-Version: 2.1\nName: newplugin\nVersion: 1.0\n".to_vec(),
            ),
            file("opt/plugins/.wh..wh..opq", Vec::new()),
        ],
    ]
}

/// The (name, version) pairs the merged image holds.
pub fn expected_packages() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = [
        ("base-files", "12.4+deb12u15"),
        ("libsqlite3-0", "3.40.1-2+deb12u2"),
        ("libssl3", "3.0.20-1~deb12u2"),
        ("python3.11-minimal", "3.11.2-6+deb12u8"),
        ("tzdata", "2026b-0+deb12u1"),
        ("zlib1g", "1:1.2.13.dfsg-1"),
        ("Flask", "2.2.2"),
        ("Werkzeug", "2.2.2"),
        ("Jinja2", "3.1.2"),
        ("newplugin", "1.0"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    v.sort();
    v
}

pub fn tar_of(items: &[Item]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for item in items {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(1_700_000_000);
        match item {
            Item::File(path, content) => {
                header.set_size(content.len() as u64);
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                builder
                    .append_data(&mut header, path, &content[..])
                    .unwrap();
            }
            Item::Dir(path) => {
                header.set_size(0);
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                builder.append_data(&mut header, path, &[][..]).unwrap();
            }
            Item::Symlink(path, target) => {
                header.set_size(0);
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                builder.append_link(&mut header, path, target).unwrap();
            }
            Item::HardLink(path, target) => {
                header.set_size(0);
                header.set_entry_type(tar::EntryType::Link);
                header.set_mode(0o644);
                builder.append_link(&mut header, path, target).unwrap();
            }
            Item::RawFile(path, content) => {
                header.set_size(content.len() as u64);
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
                header.set_cksum();
                builder.append(&header, &content[..]).unwrap();
            }
        }
    }
    builder.into_inner().unwrap()
}

pub fn compress(data: &[u8], how: Compression) -> Vec<u8> {
    match how {
        Compression::None => data.to_vec(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Zstd => zstd::encode_all(data, 3).unwrap(),
    }
}

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

fn layer_media_type(how: Compression) -> &'static str {
    match how {
        Compression::None => "application/vnd.oci.image.layer.v1.tar",
        Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
        Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
    }
}

/// The blobs of an OCI image: (digest, bytes) of every blob, and the manifest's digest.
pub struct Built {
    pub blobs: Vec<(String, Vec<u8>)>,
    pub manifest: (String, Vec<u8>),
    pub config: (String, Vec<u8>),
    pub layers: Vec<(String, Vec<u8>)>,
    pub diff_ids: Vec<String>,
}

pub fn build(compressions: &[Compression]) -> Built {
    build_layers(&layers(), compressions)
}

/// An image of the given layers.
pub fn build_layers(layer_items: &[Vec<Item>], compressions: &[Compression]) -> Built {
    build_claiming(layer_items, compressions, None)
}

/// An image of the given layers whose configuration claims `diff_ids` (another image's, say)
/// instead of its layers' own.
pub fn build_claiming(
    layer_items: &[Vec<Item>],
    compressions: &[Compression],
    claimed: Option<&[String]>,
) -> Built {
    build_configured(
        layer_items,
        compressions,
        claimed,
        serde_json::json!({"User": "65532:65532", "Cmd": ["python3"]}),
    )
}

/// An image of the given layers whose configuration's `config` (User, WorkingDir,
/// ExposedPorts, ...) is `run_config`.
pub fn build_configured(
    layer_items: &[Vec<Item>],
    compressions: &[Compression],
    claimed: Option<&[String]>,
    run_config: serde_json::Value,
) -> Built {
    let tars: Vec<Vec<u8>> = layer_items.iter().map(|l| tar_of(l)).collect();
    let diff_ids: Vec<String> = match claimed {
        Some(claimed) => claimed.to_vec(),
        None => tars.iter().map(|t| sha256(t)).collect(),
    };
    let layers: Vec<(String, Vec<u8>, Compression)> = tars
        .iter()
        .zip(compressions.iter().cycle())
        .map(|(t, c)| {
            let blob = compress(t, *c);
            (sha256(&blob), blob, *c)
        })
        .collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": run_config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let config_digest = sha256(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": layers.iter().map(|(d, b, c)| serde_json::json!({"mediaType": layer_media_type(*c), "digest": d, "size": b.len()})).collect::<Vec<_>>(),
    }))
    .unwrap();
    let manifest_digest = sha256(&manifest);
    let mut blobs: Vec<(String, Vec<u8>)> = layers
        .iter()
        .map(|(d, b, _)| (d.clone(), b.clone()))
        .collect();
    blobs.push((config_digest.clone(), config.clone()));
    blobs.push((manifest_digest.clone(), manifest.clone()));
    Built {
        blobs,
        manifest: (manifest_digest, manifest),
        config: (config_digest, config),
        layers: layers.into_iter().map(|(d, b, _)| (d, b)).collect(),
        diff_ids,
    }
}

fn index_json(built: &Built, tag: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": built.manifest.0, "size": built.manifest.1.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    }))
    .unwrap()
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap()
}

/// An OCI image layout directory.
pub fn write_oci_dir(dir: &Path, built: &Built) {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(dir.join("index.json"), index_json(built, "app")).unwrap();
    for (digest, bytes) in &built.blobs {
        std::fs::write(dir.join("blobs/sha256").join(hex_of(digest)), bytes).unwrap();
    }
}

fn tar_file(path: &Path, members: &[(String, Vec<u8>)]) {
    let items: Vec<Item> = members
        .iter()
        .map(|(n, b)| Item::File(n.clone(), b.clone()))
        .collect();
    std::fs::write(path, tar_of(&items)).unwrap();
}

/// An OCI layout in a tar file.
pub fn write_oci_archive(path: &Path, built: &Built) {
    let mut members = vec![
        (
            "oci-layout".to_owned(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        ("index.json".to_owned(), index_json(built, "app")),
    ];
    for (digest, bytes) in &built.blobs {
        members.push((format!("blobs/sha256/{}", hex_of(digest)), bytes.clone()));
    }
    tar_file(path, &members);
}

/// `docker save` before Docker 25: `<id>/layer.tar` (uncompressed), `<image id>.json`, manifest.json.
pub fn write_docker_archive_legacy(path: &Path, built: &Built) {
    let tars: Vec<Vec<u8>> = layers().iter().map(|l| tar_of(l)).collect();
    let mut members = Vec::new();
    let mut names = Vec::new();
    for (i, t) in tars.iter().enumerate() {
        let name = format!("{:064x}/layer.tar", i + 1);
        members.push((format!("{:064x}/VERSION", i + 1), b"1.0".to_vec()));
        members.push((name.clone(), t.clone()));
        names.push(name);
    }
    let config_name = format!("{}.json", hex_of(&built.config.0));
    members.push((config_name.clone(), built.config.1.clone()));
    members.push((
        "manifest.json".into(),
        serde_json::to_vec(&serde_json::json!([{"Config": config_name, "RepoTags": ["ml/iris:1"], "Layers": names}])).unwrap(),
    ));
    members.push(("repositories".into(), br#"{"ml/iris":{"1":"x"}}"#.to_vec()));
    tar_file(path, &members);
}

/// `docker save` from Docker 25 on: an OCI layout plus manifest.json naming blobs.
pub fn write_docker_archive_oci(path: &Path, built: &Built) {
    let mut members = vec![
        (
            "oci-layout".to_owned(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        ("index.json".to_owned(), index_json(built, "ml/iris:1")),
    ];
    for (digest, bytes) in &built.blobs {
        members.push((format!("blobs/sha256/{}", hex_of(digest)), bytes.clone()));
    }
    let layers: Vec<String> = built
        .layers
        .iter()
        .map(|(d, _)| format!("blobs/sha256/{}", hex_of(d)))
        .collect();
    members.push((
        "manifest.json".into(),
        serde_json::to_vec(&serde_json::json!([{
            "Config": format!("blobs/sha256/{}", hex_of(&built.config.0)),
            "RepoTags": ["ml/iris:1"], "Layers": layers,
        }]))
        .unwrap(),
    ));
    tar_file(path, &members);
}

/// The merged root filesystem, unpacked.
pub fn write_rootfs(dir: &Path) {
    for layer in layers() {
        for item in layer {
            match item {
                Item::File(p, content) => {
                    let name = p.rsplit('/').next().unwrap();
                    let parent = dir.join(p.rsplit_once('/').map(|(d, _)| d).unwrap_or(""));
                    if name == ".wh..wh..opq" {
                        for entry in std::fs::read_dir(&parent).unwrap() {
                            std::fs::remove_dir_all(entry.unwrap().path()).unwrap();
                        }
                        // keep what this layer added before the marker
                        let again = layers();
                        for it in &again[3] {
                            if let Item::File(p2, c2) = it {
                                if !p2.ends_with(".wh..wh..opq") {
                                    std::fs::create_dir_all(dir.join(p2).parent().unwrap())
                                        .unwrap();
                                    std::fs::write(dir.join(p2), c2).unwrap();
                                }
                            }
                        }
                    } else if let Some(hidden) = name.strip_prefix(".wh.") {
                        std::fs::remove_dir_all(parent.join(hidden)).unwrap();
                    } else {
                        std::fs::create_dir_all(dir.join(&p).parent().unwrap()).unwrap();
                        std::fs::write(dir.join(&p), content).unwrap();
                    }
                }
                Item::Dir(p) => std::fs::create_dir_all(dir.join(p)).unwrap(),
                Item::Symlink(p, target) => {
                    std::fs::create_dir_all(dir.join(&p).parent().unwrap()).unwrap();
                    std::os::unix::fs::symlink(target, dir.join(p)).unwrap();
                }
                Item::HardLink(p, target) => {
                    std::fs::hard_link(dir.join(target), dir.join(p)).unwrap();
                }
                Item::RawFile(p, content) => {
                    std::fs::create_dir_all(dir.join(&p).parent().unwrap()).unwrap();
                    std::fs::write(dir.join(p), content).unwrap();
                }
            }
        }
    }
}

/// (name, version) of every library component in a CycloneDX document, sorted.
pub fn components(bom: &serde_json::Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "library")
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}
