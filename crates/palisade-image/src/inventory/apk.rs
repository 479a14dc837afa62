//! apk's database (Alpine, Wolfi, Chainguard): `lib/apk/db/installed`, or
//! `usr/lib/apk/db/installed` where `/lib` is merged into `/usr/lib`.
//!
//! The file is a list of blocks separated by blank lines; each line is `K:value` with a one-letter
//! key (https://wiki.alpinelinux.org/wiki/Apk_spec). Only a few keys matter here: `P` name, `V`
//! version, `A` architecture and `o` origin, the source package the binary was built from.

use super::{Kind, Package, ParseError};

/// Where apk keeps its database, the usr-merged location first: in a usr-merged image `lib` is a
/// symlink to `usr/lib`, and a copy left under `lib` by a lower layer is stale.
pub const DATABASE_PATHS: [&str; 2] = ["usr/lib/apk/db/installed", "lib/apk/db/installed"];

/// Parses an apk `installed` database into its packages.
pub fn parse_installed(location: &str, text: &str) -> Result<Vec<Package>, ParseError> {
    let mut packages = Vec::new();
    let mut block = Block::default();
    // A trailing empty line closes the last block, whether or not the file ends with one.
    for (i, line) in text.lines().chain(std::iter::once("")).enumerate() {
        let number = i + 1;
        if line.trim().is_empty() {
            if block.start != 0 {
                packages.push(block.into_package(location)?);
            }
            block = Block::default();
            continue;
        }
        // The key is a single byte followed by `:`; apk itself rejects anything else. (A `:` in
        // second place means the first byte is ASCII, so byte 2 starts a character.)
        let (key, value) = match line.as_bytes() {
            [key, b':', ..] => (*key, line.get(2..).unwrap_or_default()),
            _ => {
                return Err(ParseError {
                    location: location.into(),
                    line: number,
                    message: format!("not a `K:value` line: {line:?}"),
                })
            }
        };
        if block.start == 0 {
            block.start = number;
        }
        // Files and their checksums repeat keys; the package fields appear once, and the first
        // occurrence is the one apk itself keeps.
        let slot = match key {
            b'P' => &mut block.name,
            b'V' => &mut block.version,
            b'A' => &mut block.arch,
            b'o' => &mut block.origin,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value.trim().to_owned());
        }
    }
    Ok(packages)
}

/// The fields of one package block, and the line it starts on (0 until its first line).
#[derive(Default)]
struct Block {
    start: usize,
    name: Option<String>,
    version: Option<String>,
    arch: Option<String>,
    origin: Option<String>,
}

impl Block {
    fn into_package(self, location: &str) -> Result<Package, ParseError> {
        let missing = |field: &str| ParseError {
            location: location.into(),
            line: self.start,
            message: format!("package block without {field}"),
        };
        let name = self
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| missing("P (name)"))?;
        let version = self
            .version
            .clone()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| missing("V (version)"))?;
        // A package without an origin is its own source (apk records `o:` for every package
        // built by abuild or melange, but hand-made packages may lack it).
        let source_name = self
            .origin
            .filter(|o| !o.is_empty())
            .unwrap_or_else(|| name.clone());
        Ok(Package {
            kind: Kind::Apk,
            source_name: Some(source_name),
            // Subpackages share their origin's version: apk has no separate source version.
            source_version: Some(version.clone()),
            name,
            version,
            architecture: self.arch.filter(|a| !a.is_empty()),
            location: location.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::os_release;

    const INSTALLED: &str = "C:Q1Gx9z1Mu4pDk8p3R+0a0Tk3gnh5k=
P:musl
V:1.2.5-r0
A:x86_64
S:411323
I:650240
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Natanael Copa <ncopa@alpinelinux.org>
t:1712265307
c:3a2fc6b3b8ec2a2e7ca1b6d93a48e3542c8d9c1b
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1N5kYAUx1A2RQy1FbvjuqXRGGsTA=
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=

P:busybox-binsh
V:1.36.1-r5
A:x86_64
o:busybox
D:busybox=1.36.1-r5

P:ssl_client
V:1.36.1-r5
o:busybox
";

    #[test]
    fn reads_packages_with_their_origins() {
        let packages = parse_installed("lib/apk/db/installed", INSTALLED).unwrap();
        let summary: Vec<(&str, &str, &str, &str, Option<&str>)> = packages
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.version.as_str(),
                    p.source_name.as_deref().unwrap(),
                    p.source_version.as_deref().unwrap(),
                    p.architecture.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("musl", "1.2.5-r0", "musl", "1.2.5-r0", Some("x86_64")),
                (
                    "busybox-binsh",
                    "1.36.1-r5",
                    "busybox",
                    "1.36.1-r5",
                    Some("x86_64")
                ),
                ("ssl_client", "1.36.1-r5", "busybox", "1.36.1-r5", None),
            ]
        );
        assert!(packages.iter().all(|p| p.kind == Kind::Apk));
        let distro = os_release::parse("ID=alpine\nVERSION_ID=3.20.3\n");
        assert_eq!(
            packages[1].purl(Some(&distro)),
            "pkg:apk/alpine/busybox-binsh@1.36.1-r5?arch=x86_64&distro=alpine-3.20.3"
        );
        let wolfi = os_release::parse("ID=wolfi\nVERSION_ID=20230201\n");
        assert_eq!(
            packages[2].purl(Some(&wolfi)),
            "pkg:apk/wolfi/ssl_client@1.36.1-r5?distro=wolfi-20230201"
        );
        assert_eq!(
            packages[0].purl(None),
            "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64"
        );
    }

    #[test]
    fn tolerates_extra_blank_lines_and_no_final_newline() {
        let packages = parse_installed("db", "\n\nP:a\nV:1-r0\n\n\n\nP:b\nV:2-r1").unwrap();
        let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(parse_installed("db", "").unwrap().is_empty());
        // A package without an origin is its own source.
        assert_eq!(packages[1].source_name.as_deref(), Some("b"));
    }

    #[test]
    fn a_block_without_name_or_version_is_an_error_at_its_first_line() {
        let err = parse_installed("db", "P:a\nV:1-r0\n\nC:Q1abc=\nP:b\nA:x86_64\n").unwrap_err();
        assert_eq!(err.line, 4);
        assert!(err.message.contains("without V"), "{err}");
        let err = parse_installed("db", "V:1-r0\no:x\n").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("without P"), "{err}");
        let err = parse_installed("db", "P:\nV:1\n").unwrap_err();
        assert!(err.message.contains("without P"), "{err}");
    }

    #[test]
    fn a_line_that_is_not_key_colon_value_is_an_error() {
        let err = parse_installed("db", "P:a\nV:1-r0\nbroken line\n").unwrap_err();
        assert_eq!((err.location.as_str(), err.line), ("db", 3));
        let err = parse_installed("db", "P:a\nPV:1\n").unwrap_err();
        assert_eq!(err.line, 2);
        // Multi-byte UTF-8 where the key should be is rejected, not sliced mid-character.
        assert!(parse_installed("db", "é:x\n").is_err());
    }
}
