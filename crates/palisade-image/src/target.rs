//! Where an image comes from, as the user names it on the command line.

use std::fmt;
use std::path::PathBuf;

use palisade_core::image_ref::ImageRef;

/// An image to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `registry:HOST/REPO:TAG` or `registry:HOST/REPO@sha256:...`.
    Registry(ImageRef),
    /// `oci-dir:PATH` (an OCI image layout directory), optionally `oci-dir:PATH:TAG`.
    OciDir { path: PathBuf, tag: Option<String> },
    /// `oci-archive:PATH`: an OCI image layout in a tar file, optionally `:TAG`.
    OciArchive { path: PathBuf, tag: Option<String> },
    /// `docker-archive:PATH`: what `docker save` writes (legacy or OCI-based), optionally `:REPO:TAG`.
    DockerArchive { path: PathBuf, tag: Option<String> },
    /// `dir:PATH`: an unpacked root filesystem.
    Dir(PathBuf),
}

#[derive(Debug, thiserror::Error)]
#[error("invalid image target {target:?}: {message}")]
pub struct TargetError {
    pub target: String,
    pub message: String,
}

impl Target {
    pub fn parse(target: &str) -> Result<Target, TargetError> {
        let error = |message: &str| TargetError {
            target: target.into(),
            message: message.into(),
        };
        let Some((scheme, rest)) = target
            .split_once(':')
            // `docker:24-dind` is Docker Hub's docker image; skopeo's transport is `docker://`.
            .filter(|(scheme, rest)| {
                SCHEMES.contains(scheme) && (*scheme != "docker" || rest.starts_with("//"))
            })
        else {
            return Self::bare(target);
        };
        if rest.is_empty() {
            return Err(error("nothing after the scheme"));
        }
        Ok(match scheme {
            "registry" | "docker" => {
                let rest = rest.trim_start_matches("//");
                let reference = ImageRef::parse(rest).map_err(|e| error(&e))?;
                Target::Registry(reference)
            }
            "oci-dir" | "oci" => {
                let (path, tag) = split_tag(rest, true);
                Target::OciDir { path, tag }
            }
            "oci-archive" => {
                let (path, tag) = split_tag(rest, false);
                Target::OciArchive { path, tag }
            }
            "docker-archive" => {
                let (path, tag) = split_tag(rest, false);
                Target::DockerArchive { path, tag }
            }
            "dir" => Target::Dir(PathBuf::from(rest)),
            other => return Err(error(&format!("unknown scheme {other:?}"))),
        })
    }

    /// A target without a scheme is a registry reference, as `trivy image` and `grype` take
    /// `registry.example.com/ml/iris:1` or `python:3.11`. A name that is also a local file or
    /// directory is refused: which one was meant cannot be guessed, and scanning the wrong one
    /// would report on something else.
    fn bare(target: &str) -> Result<Target, TargetError> {
        let error = |message: String| TargetError {
            target: target.into(),
            message,
        };
        if std::path::Path::new(target).exists() {
            return Err(error(format!(
                "{target} is a local path: name it as oci-dir:{target}, oci-archive:{target}, docker-archive:{target} or dir:{target} (or registry:{target} for the registry image)"
            )));
        }
        ImageRef::parse(target)
            .map(Target::Registry)
            .map_err(|e| {
                error(format!(
                    "{e} (expected a registry reference such as registry.example.com/ml/iris:1, or registry:REF, oci-dir:PATH, oci-archive:PATH, docker-archive:PATH or dir:PATH)"
                ))
            })
    }
}

/// The schemes a target may start with.
const SCHEMES: &[&str] = &[
    "registry",
    "docker",
    "oci-dir",
    "oci",
    "oci-archive",
    "docker-archive",
    "dir",
];

/// `PATH` or `PATH:TAG`: the split is taken only when `PATH` alone names something that exists,
/// so paths with colons in them keep working.
fn split_tag(rest: &str, directory: bool) -> (PathBuf, Option<String>) {
    let whole = PathBuf::from(rest);
    if whole.exists() {
        return (whole, None);
    }
    if let Some((path, tag)) = rest.split_once(':') {
        let candidate = PathBuf::from(path);
        let fits = if directory {
            candidate.is_dir()
        } else {
            candidate.is_file()
        };
        if fits && !tag.is_empty() {
            return (candidate, Some(tag.to_owned()));
        }
    }
    (whole, None)
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with_tag =
            |f: &mut fmt::Formatter<'_>, scheme: &str, path: &PathBuf, tag: &Option<String>| {
                write!(f, "{scheme}:{}", path.display())?;
                match tag {
                    Some(tag) => write!(f, ":{tag}"),
                    None => Ok(()),
                }
            };
        match self {
            Target::Registry(r) => {
                write!(f, "registry:{}", r.full_name())?;
                if let Some(tag) = &r.tag {
                    write!(f, ":{tag}")?;
                }
                if let Some(digest) = &r.digest {
                    write!(f, "@{digest}")?;
                }
                Ok(())
            }
            Target::OciDir { path, tag } => with_tag(f, "oci-dir", path, tag),
            Target::OciArchive { path, tag } => with_tag(f, "oci-archive", path, tag),
            Target::DockerArchive { path, tag } => with_tag(f, "docker-archive", path, tag),
            Target::Dir(path) => write!(f, "dir:{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_scheme() {
        let Target::Registry(r) = Target::parse("registry:127.0.0.1:5000/ml/iris:1").unwrap()
        else {
            panic!("not a registry target")
        };
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "ml/iris", Some("1"))
        );
        assert!(matches!(Target::parse("dir:/").unwrap(), Target::Dir(_)));
        assert!(matches!(
            Target::parse("oci-archive:/no/such.tar").unwrap(),
            Target::OciArchive { tag: None, .. }
        ));
        let dir = std::env::temp_dir();
        let t = Target::parse(&format!("oci-dir:{}:app", dir.display())).unwrap();
        assert_eq!(
            t,
            Target::OciDir {
                path: dir,
                tag: Some("app".into())
            }
        );
        for bad in ["dir:", "registry:host/repo@sha256:short", "host/repo:"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hardening_11_a_bare_reference_is_a_registry_image() {
        for (bare, registry, repository, tag) in [
            (
                "registry.example.com/ml/iris:1",
                "registry.example.com",
                "ml/iris",
                Some("1"),
            ),
            (
                "127.0.0.1:5000/ml/iris:2",
                "127.0.0.1:5000",
                "ml/iris",
                Some("2"),
            ),
            ("localhost:5000/iris", "localhost:5000", "iris", None),
            ("python:3.11", "docker.io", "library/python", Some("3.11")),
            (
                "docker:24-dind",
                "docker.io",
                "library/docker",
                Some("24-dind"),
            ),
        ] {
            let Ok(Target::Registry(r)) = Target::parse(bare) else {
                panic!("{bare} is not a registry target")
            };
            assert_eq!(
                (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
                (registry, repository, tag),
                "{bare}"
            );
        }
        // The same name as a local path is ambiguous: refused, with the schemes to choose from.
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("iris");
        std::fs::create_dir(&local).unwrap();
        let error = Target::parse(local.to_str().unwrap()).unwrap_err();
        assert!(error.message.contains("oci-dir:"), "{error}");
    }
}
