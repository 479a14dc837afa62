//! From bytes to objects: decoding, the YAML stream, and every error named with file and line.

use std::sync::Arc;

use crate::error::InputError;
use crate::object::Object;
use crate::yaml;

/// Files larger than this are refused rather than read: manifests are kilobytes, and an audit
/// must not be made to allocate without bound.
pub const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

/// Decodes manifest bytes as UTF-8 (a UTF-8 byte-order mark is dropped). Anything else is an error
/// naming the byte offset, so binary junk is reported, never half-parsed.
pub fn decode(file: &Arc<str>, bytes: Vec<u8>) -> Result<String, InputError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(InputError::file(
            file.clone(),
            "UTF-16 text is not supported: convert the file to UTF-8".into(),
        ));
    }
    let mut text = String::from_utf8(bytes).map_err(|e| {
        InputError::file(
            file.clone(),
            format!(
                "not UTF-8 text (invalid byte at offset {}): is this a binary file?",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    if let Some(offset) = text.find('\0') {
        return Err(InputError::file(
            file.clone(),
            format!("contains a NUL byte at offset {offset}: is this a binary file?"),
        ));
    }
    Ok(text)
}

/// The objects of one YAML/JSON stream.
#[derive(Debug, Default)]
pub struct Stream {
    /// Documents seen, empty ones included.
    pub documents: usize,
    pub objects: Vec<Object>,
    /// Problems, in stream order. A syntax error ends the stream; an invalid object does not.
    pub errors: Vec<InputError>,
}

/// Parses every document of `text` into objects. A stream with no object at all is an error: an
/// empty or comment-only file given to an audit is a mistake, not a pass.
pub fn parse_stream(file: &Arc<str>, text: &str) -> Stream {
    let mut stream = Stream::default();
    for document in yaml::documents(text) {
        match document {
            Ok(document) => {
                stream.documents += 1;
                match Object::from_document(file, document) {
                    Ok(objects) => stream.objects.extend(objects),
                    Err(e) => stream.errors.push(e),
                }
            }
            Err(e) => stream.errors.push(InputError::from_yaml(file.clone(), e)),
        }
    }
    if stream.objects.is_empty() && stream.errors.is_empty() {
        stream.errors.push(InputError::file(
            file.clone(),
            "contains no Kubernetes objects (empty input)".into(),
        ));
    }
    stream
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Arc<str> {
        Arc::from("in.yaml")
    }

    #[test]
    fn rejects_binary_and_utf16() {
        let err = decode(&file(), vec![b'a', 0xC3, 0x28]).unwrap_err();
        assert!(err.message.contains("offset 1"), "{err}");
        assert!(decode(&file(), vec![0xFF, 0xFE, b'a', 0]).is_err());
        assert!(decode(&file(), b"kind: Pod\0".to_vec())
            .unwrap_err()
            .message
            .contains("NUL"));
        assert_eq!(
            decode(&file(), b"\xEF\xBB\xBFa: 1".to_vec()).unwrap(),
            "a: 1"
        );
    }

    #[test]
    fn empty_streams_are_errors() {
        for text in ["", "# only a comment\n", "---\n---\n"] {
            let stream = parse_stream(&file(), text);
            assert_eq!(stream.errors.len(), 1, "{text:?}");
            assert!(stream.errors[0].message.contains("no Kubernetes objects"));
        }
    }

    #[test]
    fn keeps_going_after_an_invalid_object() {
        let stream = parse_stream(
            &file(),
            "- 1\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\n42\n",
        );
        assert_eq!(stream.documents, 3);
        assert_eq!(stream.objects.len(), 1);
        assert_eq!(stream.errors.len(), 2);
        assert_eq!(stream.errors[0].line, Some(1));
        assert!(
            stream.errors[1].message.contains("is a integer")
                || stream.errors[1].message.contains("integer")
        );
    }
}
