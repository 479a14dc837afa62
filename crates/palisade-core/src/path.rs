//! Field paths in the notation Kubernetes uses in its own messages:
//! `spec.template.spec.containers[0].securityContext.privileged`, `metadata.annotations[key]`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// A struct field, printed after a dot.
    Field(String),
    /// A map key, printed in brackets (annotation and label names contain dots).
    Key(String),
    /// A list index.
    Index(usize),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldPath(Vec<Segment>);

impl FieldPath {
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// Parses dotted notation (`spec.template.spec`); for fixed, known prefixes.
    pub fn parse_dotted(path: &str) -> Self {
        Self(
            path.split('.')
                .filter(|s| !s.is_empty())
                .map(|s| Segment::Field(s.to_owned()))
                .collect(),
        )
    }

    pub fn field(mut self, name: &str) -> Self {
        self.0.push(Segment::Field(name.to_owned()));
        self
    }

    pub fn key(mut self, name: &str) -> Self {
        self.0.push(Segment::Key(name.to_owned()));
        self
    }

    pub fn index(mut self, i: usize) -> Self {
        self.0.push(Segment::Index(i));
        self
    }

    pub fn join(&self, other: &FieldPath) -> FieldPath {
        let mut segments = self.0.clone();
        segments.extend(other.0.iter().cloned());
        FieldPath(segments)
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl FieldPath {
    /// The same location as a JSON pointer (RFC 6901), for JSON patches.
    pub fn to_json_pointer(&self) -> String {
        let mut out = String::new();
        for segment in &self.0 {
            out.push('/');
            match segment {
                Segment::Field(name) | Segment::Key(name) => {
                    out.push_str(&name.replace('~', "~0").replace('/', "~1"))
                }
                Segment::Index(index) => out.push_str(&index.to_string()),
            }
        }
        out
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Field(name) if i == 0 => f.write_str(name)?,
                Segment::Field(name) => write!(f, ".{name}")?,
                Segment::Key(key) => write!(f, "[{key}]")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_pointers_escape_keys() {
        let path = FieldPath::parse_dotted("spec.template.spec")
            .field("containers")
            .index(2)
            .field("image");
        assert_eq!(
            path.to_json_pointer(),
            "/spec/template/spec/containers/2/image"
        );
        let key = FieldPath::parse_dotted("metadata.annotations").key("a/b~c");
        assert_eq!(key.to_json_pointer(), "/metadata/annotations/a~1b~0c");
    }

    #[test]
    fn displays_in_kubernetes_notation() {
        let path = FieldPath::parse_dotted("spec.template.spec")
            .field("containers")
            .index(2)
            .field("securityContext");
        assert_eq!(
            path.to_string(),
            "spec.template.spec.containers[2].securityContext"
        );
        let path = FieldPath::root()
            .field("metadata")
            .field("annotations")
            .key("a.b/c");
        assert_eq!(path.to_string(), "metadata.annotations[a.b/c]");
    }
}
