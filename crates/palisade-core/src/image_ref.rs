//! Container image references, normalised the way the container runtime resolves them
//! (`flask` is `docker.io/library/flask:latest`).

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `docker.io` when the reference names no registry.
    pub registry: String,
    /// Repository path, e.g. `library/flask` or `ml/iris-server`.
    pub repository: String,
    pub tag: Option<String>,
    /// `algorithm:hex`, e.g. `sha256:9f86...`.
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(reference: &str) -> Result<ImageRef, String> {
        let reference = reference.trim();
        if reference.is_empty() {
            return Err("empty image reference".into());
        }
        let (name, digest) = match reference.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (reference, None),
        };
        if let Some(digest) = digest {
            let valid = digest.split_once(':').is_some_and(|(alg, hex)| {
                !alg.is_empty()
                    && alg.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b)
                    })
                    && hex.len() >= 32
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            });
            if !valid {
                return Err(format!("invalid digest {digest:?}"));
            }
        }
        let (path, tag) = match name.rfind(':') {
            Some(i) if !name[i..].contains('/') => (&name[..i], Some(&name[i + 1..])),
            _ => (name, None),
        };
        if tag.is_some_and(str::is_empty) || path.is_empty() {
            return Err(format!("invalid image reference {reference:?}"));
        }
        let (registry, repository) = match path.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_owned(), rest.to_owned())
            }
            Some(_) => ("docker.io".to_owned(), path.to_owned()),
            None => ("docker.io".to_owned(), format!("library/{path}")),
        };
        let registry = if registry == "index.docker.io" {
            "docker.io".to_owned()
        } else {
            registry
        };
        Ok(ImageRef {
            registry,
            repository,
            tag: tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        })
    }

    /// `registry/repository`, for matching against allowed prefixes.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// True when `prefix` (a registry, or a registry and path) covers this image, on path-segment
    /// boundaries: `registry.example.com/ml` covers `registry.example.com/ml/iris`, not
    /// `registry.example.com/mlx`.
    pub fn is_under(&self, prefix: &str) -> bool {
        let prefix = prefix.trim_end_matches('/');
        let prefix = prefix
            .strip_prefix("index.docker.io")
            .map(|rest| format!("docker.io{rest}"))
            .unwrap_or_else(|| prefix.to_owned());
        let full = self.full_name();
        full == prefix || full.starts_with(&format!("{prefix}/"))
    }

    /// Latest in effect: tagged `latest`, or neither tagged nor pinned.
    pub fn is_latest(&self) -> bool {
        self.digest.is_none() && self.tag.as_deref().is_none_or(|t| t == "latest")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_the_runtime() {
        let r = ImageRef::parse("flask").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("docker.io", "library/flask", None)
        );
        assert!(r.is_latest());
        let r = ImageRef::parse("localhost:5000/ml/iris:1.2").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("localhost:5000", "ml/iris", Some("1.2"))
        );
        let digest = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let r = ImageRef::parse(&format!("registry.example.com/ml/iris@{digest}")).unwrap();
        assert_eq!(r.digest.as_deref(), Some(digest));
        assert!(!r.is_latest());
        assert!(
            r.is_under("registry.example.com")
                && r.is_under("registry.example.com/ml/")
                && !r.is_under("registry.example.com/m")
        );
        assert!(ImageRef::parse("bitnami/redis:7")
            .unwrap()
            .is_under("docker.io/bitnami"));
        assert!(ImageRef::parse("x@sha256:abc").is_err());
        assert!(ImageRef::parse("x:").is_err());
    }
}
