//! The model scanner's rules: every code a finding of this crate carries, with its default
//! severity, title and how to fix what it finds. Findings name their rule by these constants,
//! never by a string of their own, so a code cannot be misspelt or left out of the table.

use palisade_diagnostics::{Rule, RuleTable, Severity};

pub const DANGEROUS_GLOBAL: Rule = Rule {
    code: "model/dangerous-global",
    severity: Severity::Critical,
    title: "The file references a callable that executes code when it is loaded.",
    help: "Do not load the file. Rebuild the model from its source and save it as safetensors (or another format that holds no code).",
};
pub const UNKNOWN_GLOBAL: Rule = Rule {
    code: "model/unknown-global",
    severity: Severity::Medium,
    title: "The file references a global that is not on the allowlist.",
    help: "Check what the global is; if it is a class that only holds data, allow it with --allow-global or models.allowedGlobals.",
};
pub const UNKNOWN_CALL: Rule = Rule {
    code: "model/unknown-call",
    severity: Severity::Critical,
    title: "The file calls a global that is not on the allowlist, with arguments it chooses.",
    help: "Allow the callable only if it is a class you trust to hold data (--allow-global or models.allowedGlobals); otherwise do not load the file.",
};
pub const UNPARSEABLE: Rule = Rule {
    code: "model/unparseable",
    severity: Severity::Critical,
    title: "The file cannot be parsed, so it cannot be shown to be safe.",
    help: "Regenerate the file from its source; a damaged file is not loaded by a careful server either.",
};
pub const KERAS_LAMBDA: Rule = Rule {
    code: "model/keras-lambda",
    severity: Severity::Critical,
    title: "A Keras Lambda layer runs arbitrary Python code when the model is loaded.",
    help: "Replace the Lambda layer with a registered custom layer, or load with safe_mode and no custom objects.",
};
pub const ENCRYPTED: Rule = Rule {
    code: "model/encrypted",
    severity: Severity::Medium,
    title: "An encrypted archive member cannot be inspected.",
    help: "Ship the model unencrypted (and sign it) so that it can be scanned.",
};
pub const LIMIT: Rule = Rule {
    code: "model/limit",
    severity: Severity::Medium,
    title: "A size, depth or count limit stopped the scan; the rest was not inspected.",
    help: "Split the artifact, or raise the limit if the file is known to be that large.",
};
pub const TORCHSCRIPT: Rule = Rule {
    code: "model/torchscript",
    severity: Severity::Medium,
    title: "TorchScript code runs when the model is loaded.",
    help: "Load TorchScript only from a trusted, signed source; prefer exporting weights as safetensors.",
};
pub const UNRESOLVED_GLOBAL: Rule = Rule {
    code: "model/unresolved-global",
    severity: Severity::Medium,
    title: "A STACK_GLOBAL whose module or name cannot be resolved, so what it imports cannot be verified.",
    help: "Regenerate the pickle with a standard pickler; a name built at load time has no honest purpose.",
};
pub const GLOBAL_MUTATION: Rule = Rule {
    code: "model/global-mutation",
    severity: Severity::Critical,
    title: "The pickle modifies a module or class, which changes code that runs later.",
    help: "Do not load the file.",
};
pub const INDIRECT_CALL: Rule = Rule {
    code: "model/indirect-call",
    severity: Severity::Critical,
    title: "The pickle calls something that is not a named global.",
    help: "Do not load the file; a pickle of plain data never calls the result of a call.",
};
pub const NESTED_PICKLE: Rule = Rule {
    code: "model/nested-pickle",
    severity: Severity::Medium,
    title: "A pickle is embedded inside a value of the file.",
    help: "Check why the file carries a second pickle; its own findings are reported when it is loaded.",
};
pub const AMBIGUOUS_ARRAY: Rule = Rule {
    code: "model/ambiguous-array",
    severity: Severity::Medium,
    title: "joblib array bytes that also read as pickle opcodes changing the memo.",
    help: "Regenerate the file with joblib.dump from its source.",
};
pub const EXTENSION_CODE: Rule = Rule {
    code: "model/extension-code",
    severity: Severity::Medium,
    title: "A copyreg extension code names a global that cannot be resolved offline.",
    help: "Regenerate the pickle without copyreg extension codes.",
};
pub const UNPARSED_ARRAY: Rule = Rule {
    code: "model/unparsed-array",
    severity: Severity::Medium,
    title: "A joblib array whose size cannot be determined, so what follows it cannot be read.",
    help: "Regenerate the file with joblib.dump from its source.",
};
pub const ARCHIVE_PATH: Rule = Rule {
    code: "model/archive-path",
    severity: Severity::Medium,
    title: "An archive member name that climbs out of its directory or is absolute.",
    help: "Rebuild the archive with relative member names inside one directory.",
};
pub const DUPLICATE_MEMBER: Rule = Rule {
    code: "model/duplicate-member",
    severity: Severity::Medium,
    title: "Two archive members share a name; loaders may read either.",
    help: "Rebuild the archive with one member per name.",
};
pub const ZIP_INCONSISTENT: Rule = Rule {
    code: "model/zip-inconsistent",
    severity: Severity::Medium,
    title: "A zip's local headers disagree with its central directory.",
    help: "Rebuild the archive with a standard zip writer.",
};
pub const POLYGLOT: Rule = Rule {
    code: "model/polyglot",
    severity: Severity::Medium,
    title: "A file that is two formats at once (an archive appended to another file).",
    help: "Ship each artifact as one format; loaders disagree on what a polyglot is.",
};
pub const UNSUPPORTED_ARCHIVE: Rule = Rule {
    code: "model/unsupported-archive",
    severity: Severity::Medium,
    title: "An archive format or method that cannot be opened here.",
    help: "Repack the model as zip (stored or deflate), tar or safetensors.",
};
pub const SUSPICIOUS_METADATA: Rule = Rule {
    code: "model/suspicious-metadata",
    severity: Severity::Medium,
    title: "Metadata holding code, commands or URLs.",
    help: "Check the metadata field named in the finding and remove what does not belong there.",
};
pub const ONNX_CUSTOM_OP: Rule = Rule {
    code: "model/onnx-custom-op",
    severity: Severity::Medium,
    title: "An ONNX operator from a custom domain, implemented by native code outside the model.",
    help:
        "Check that the custom operator library is trusted and pinned; prefer standard operators.",
};
pub const ONNX_EXTERNAL_DATA: Rule = Rule {
    code: "model/onnx-external-data",
    severity: Severity::Medium,
    title: "ONNX tensors stored in external files, outside the scanned model.",
    help: "Scan the external data files too, or embed the tensors in the model.",
};
pub const TF_CODE_OP: Rule = Rule {
    code: "model/tf-code-op",
    severity: Severity::Critical,
    title: "A TensorFlow op that runs Python code (PyFunc).",
    help: "Rebuild the graph without PyFunc ops.",
};
pub const TF_FILE_OP: Rule = Rule {
    code: "model/tf-file-op",
    severity: Severity::Medium,
    title: "A TensorFlow op that reads or writes files.",
    help: "Check the file op's paths; a serving graph rarely needs to read or write files.",
};
pub const TRAILING_DATA: Rule = Rule {
    code: "model/trailing-data",
    severity: Severity::Medium,
    title: "Bytes after the end of the recognised content.",
    help: "Check what the extra bytes are; regenerate the file without them.",
};
pub const SYMLINK: Rule = Rule {
    code: "model/symlink",
    severity: Severity::Medium,
    title: "A symbolic link that points outside the scanned directory.",
    help: "Copy the target into the model directory, or scan the target as well.",
};
pub const UNRECOGNISED: Rule = Rule {
    code: "model/unrecognised",
    severity: Severity::Info,
    title: "Content that is not a recognised model format.",
    help: "Nothing to do unless the file is a model: then report the format.",
};

/// Every rule of the model scanner.
pub const TABLE: RuleTable = RuleTable {
    domain: "model",
    rules: &[
        DANGEROUS_GLOBAL,
        UNKNOWN_GLOBAL,
        UNKNOWN_CALL,
        UNPARSEABLE,
        KERAS_LAMBDA,
        ENCRYPTED,
        LIMIT,
        TORCHSCRIPT,
        UNRESOLVED_GLOBAL,
        GLOBAL_MUTATION,
        INDIRECT_CALL,
        NESTED_PICKLE,
        AMBIGUOUS_ARRAY,
        EXTENSION_CODE,
        UNPARSED_ARRAY,
        ARCHIVE_PATH,
        DUPLICATE_MEMBER,
        ZIP_INCONSISTENT,
        POLYGLOT,
        UNSUPPORTED_ARCHIVE,
        SUSPICIOUS_METADATA,
        ONNX_CUSTOM_OP,
        ONNX_EXTERNAL_DATA,
        TF_CODE_OP,
        TF_FILE_OP,
        TRAILING_DATA,
        SYMLINK,
        UNRECOGNISED,
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_consistent_and_complete() {
        assert_eq!(TABLE.problems(), Vec::<String>::new());
        // Every code the crate's sources name is in the table.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut missing = Vec::new();
        for entry in walk(&dir) {
            let text = std::fs::read_to_string(&entry).unwrap_or_default();
            for (i, _) in text.match_indices("\"model/") {
                let code: String = text[i + 1..].chars().take_while(|c| *c != '"').collect();
                // Rule codes are `model/` and a lowercase name; member paths such as
                // `model/data.pkl` in tests are not codes.
                let is_code = code.strip_prefix("model/").is_some_and(|name| {
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                });
                if is_code && TABLE.get(&code).is_none() {
                    missing.push(format!("{}: {code}", entry.display()));
                }
            }
        }
        assert!(missing.is_empty(), "{missing:?}");
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
        files
    }
}
