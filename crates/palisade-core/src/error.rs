//! Errors reading input: always with the file, and the line where one is known.

use std::fmt;
use std::sync::Arc;

/// Input that could not be read or understood. Reported, and turned into exit code 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InputError {
    pub file: Arc<str>,
    pub line: Option<u32>,
    pub col: Option<u32>,
    pub message: String,
}

impl InputError {
    pub fn at(file: Arc<str>, line: u32, message: String) -> Self {
        Self {
            file,
            line: Some(line),
            col: None,
            message,
        }
    }

    pub fn file(file: Arc<str>, message: String) -> Self {
        Self {
            file,
            line: None,
            col: None,
            message,
        }
    }

    pub fn from_yaml(file: Arc<str>, err: crate::yaml::LoadError) -> Self {
        Self {
            file,
            line: Some(err.line),
            col: Some(err.col),
            message: err.message,
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.col) {
            (Some(line), Some(col)) => write!(f, "{}:{line}:{col}: {}", self.file, self.message),
            (Some(line), None) => write!(f, "{}:{line}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}
