//! Which globals a model file may reference.
//!
//! A pickle names every callable and class it needs as `module.name`; loading the pickle imports
//! the module and fetches the name, and the pickle can then call it with arguments of its
//! choosing. So the verdict on each name decides whether a file is safe to load:
//!
//! * **Dangerous**: a known code-executing, process-starting, file-writing, network-reaching or
//!   deserializing callable (`os.system`, `builtins.eval`, `pickle.loads`, ...), a whole module of
//!   them (`subprocess`, `socket`, ...), or a name that walks into interpreter internals through a
//!   dunder attribute (`x.__globals__`). Extra configuration cannot allow these.
//! * **Allowed**: the built-in allowlist of what scikit-learn, numpy, scipy, joblib, PyTorch and
//!   the standard containers need, plus the configured `extra_allowed` entries.
//! * **Unknown**: everything else. Not proof of harm, but nobody vouched for it.
//!
//! Module names are compared exactly (no prefix matching on the allowlist, apart from the
//! documented class patterns), after mapping Python 2 names (`__builtin__`, `copy_reg`, ...) to the
//! ones Python 3 loads and `numpy._core` to `numpy.core`. The full list is in
//! `docs/model-allowlist.md`.

use std::borrow::Cow;

/// The verdict on one global.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// On the allowlist: what scikit-learn, numpy, scipy, joblib, torch and the standard
    /// containers need.
    Allowed,
    /// Not on the allowlist.
    Unknown,
    /// A known code-executing callable.
    Dangerous,
}

/// The allowlist (built in, extendable by configuration) and the known dangerous callables.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Extra allowed globals from configuration: `module.name`, or `module.*` for a whole module.
    /// They never override a Dangerous verdict.
    pub extra_allowed: Vec<String>,
}

/// A verdict with its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    pub verdict: Verdict,
    /// For Dangerous: what the global does, phrased to follow its name ("executes a shell
    /// command"). For the others: a short note on why it was (not) allowed.
    pub reason: &'static str,
    /// The global deserializes its argument (`pickle.loads`, `torch.load`, ...): bytes handed
    /// to it are themselves a pickle to scan.
    pub loader: bool,
}

impl Policy {
    pub fn classify(&self, module: &str, name: &str) -> Verdict {
        self.check(module, name).verdict
    }

    /// The verdict on `module.name` with the reason for it.
    pub fn check(&self, module: &str, name: &str) -> Classification {
        let (norm_module, norm_name) = normalize(module, name);
        let path = format!("{norm_module}.{norm_name}");
        let raw = format!("{module}.{name}");
        let loader = LOADERS.contains(&path.as_str()) || LOADERS.contains(&raw.as_str());
        let verdict = |verdict, reason| Classification {
            verdict,
            reason,
            loader,
        };

        if module.is_empty() || name.is_empty() {
            // Python refuses to import an empty name, so nothing runs; still nobody vouched for it.
            return verdict(Verdict::Unknown, "has an empty module or attribute name");
        }
        let parts = norm_module.matches('.').count() + 1;
        let raw_parts = module.matches('.').count() + 1;
        if let Some(reason) = deny_reason(&path, parts, DENY_EXACT, false)
            .or_else(|| deny_reason(&raw, raw_parts, DENY_EXACT, false))
        {
            return verdict(Verdict::Dangerous, reason);
        }
        if let Some(reason) = deny_method(&norm_module, &norm_name) {
            return verdict(Verdict::Dangerous, reason);
        }
        if name
            .split('.')
            .any(|part| part.len() > 4 && part.starts_with("__") && part.ends_with("__"))
            && !ALLOW_EXACT.contains(&path.as_str())
        {
            return verdict(
                Verdict::Dangerous,
                "walks into interpreter internals through a dunder attribute (the usual road to \
                 __globals__, __builtins__ and __subclasses__)",
            );
        }
        // Exact allowlist entries may sit inside a denied module (`torch.serialization._get_layout`).
        if ALLOW_EXACT.contains(&path.as_str()) {
            return verdict(Verdict::Allowed, "on the built-in allowlist");
        }
        if let Some(reason) = deny_reason(&path, parts, DENY_MODULES, true)
            .or_else(|| deny_reason(&raw, raw_parts, DENY_MODULES, true))
        {
            return verdict(Verdict::Dangerous, reason);
        }
        if allowed_by_pattern(&norm_module, &norm_name) {
            return verdict(Verdict::Allowed, "on the built-in allowlist");
        }
        if self.extra_allows(module, name) || self.extra_allows(&norm_module, &norm_name) {
            return verdict(Verdict::Allowed, "allowed by configuration (extra_allowed)");
        }
        verdict(Verdict::Unknown, "is not on the model allowlist")
    }

    fn extra_allows(&self, module: &str, name: &str) -> bool {
        self.extra_allowed.iter().any(|entry| {
            let entry = entry.trim();
            if let Some(whole) = entry.strip_suffix(".*") {
                whole == module
            } else {
                entry.len() == module.len() + 1 + name.len()
                    && entry.starts_with(module)
                    && entry[module.len()..].starts_with('.')
                    && entry.ends_with(name)
            }
        })
    }
}

/// The Dangerous reason for `path` (`module.name`, `module_parts` of its components being the
/// module) in `table`, if there is one: an exact entry, or with `prefix` the entry itself or
/// anything below it. Dotted names are attribute walks: `torch.serialization` + `os.system`
/// reaches `os.system` through the `os` that module imported, so every suffix that starts inside
/// the name is checked as if it were a path of its own.
fn deny_reason(
    path: &str,
    module_parts: usize,
    table: &[(&str, &'static str)],
    prefix: bool,
) -> Option<&'static str> {
    let mut starts = vec![0usize];
    let mut part = 0usize;
    for (i, b) in path.bytes().enumerate() {
        if b == b'.' {
            part += 1;
            if part >= module_parts && path[i + 1..].contains('.') {
                starts.push(i + 1);
            }
        }
    }
    let matches = |window: &str| {
        table.iter().find(|(entry, _)| {
            *entry == window
                || (prefix
                    && window.len() > entry.len()
                    && window.starts_with(entry)
                    && window.as_bytes()[entry.len()] == b'.')
        })
    };
    for start in starts {
        let window = &path[start..];
        if let Some((_, reason)) = matches(window) {
            return Some(reason);
        }
        // Modules import what they use under private aliases (`import sys as _sys`), so a walk
        // through `_sys` reaches `sys`.
        if start > 0 {
            if let Some((_, reason)) = window.strip_prefix('_').and_then(matches) {
                return Some(reason);
            }
        }
    }
    None
}

/// The documented class patterns: CamelCase classes of the libraries whose estimators and layers
/// are plain data holders, and the few families of lower-case class names.
fn allowed_by_pattern(module: &str, name: &str) -> bool {
    let in_pkg = |pkg: &str| {
        module == pkg
            || (module.starts_with(pkg) && module.as_bytes().get(pkg.len()) == Some(&b'.'))
    };
    let camel = is_camel_class(name);
    if in_pkg("sklearn") {
        let excluded = SKLEARN_EXCLUDED.iter().any(|ex| {
            module == *ex
                || (module.starts_with(ex) && module.as_bytes().get(ex.len()) == Some(&b'.'))
        });
        return !excluded && (camel || is_cython_unpickle(name));
    }
    if in_pkg("torch.nn.modules") || in_pkg("torch.optim") || module == "numpy.dtypes" {
        return camel;
    }
    if in_pkg("scipy.sparse") {
        return is_sparse_class(name) || is_cython_unpickle(name);
    }
    if in_pkg("scipy.interpolate") || in_pkg("scipy.spatial") {
        return camel;
    }
    if DISTRIBUTION_MODULES.contains(&module) {
        // scipy.stats' distributions are instances of lower-case `<name>_gen` classes, frozen
        // ones of `rv_*_frozen`; both hold parameters only.
        let ident =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        return camel
            || (ident
                && (name.ends_with("_gen")
                    || name.ends_with("_frozen")
                    || name.starts_with("rv_")));
    }
    if PANDAS_DATA_MODULES.iter().any(|pkg| in_pkg(pkg)) {
        return camel || is_cython_unpickle(name);
    }
    if in_pkg("statsmodels") {
        let excluded = STATSMODELS_EXCLUDED.iter().any(|ex| in_pkg(ex));
        if excluded {
            return false;
        }
        // The state-space Cython classes come in one per precision: sKalmanFilter,
        // dKalmanFilter, cKalmanFilter, zKalmanFilter.
        let typed = in_pkg("statsmodels.tsa.statespace")
            && matches!(name.as_bytes(), [b's' | b'd' | b'c' | b'z', rest @ ..]
                if is_camel_class(std::str::from_utf8(rest).unwrap_or("")));
        return camel || typed || is_cython_unpickle(name);
    }
    false
}

/// scipy.stats modules whose distribution classes (`norm_gen`, `rv_continuous_frozen`) are
/// allowed.
const DISTRIBUTION_MODULES: &[&str] = &[
    "scipy.stats._continuous_distns",
    "scipy.stats._discrete_distns",
    "scipy.stats._distn_infrastructure",
    "scipy.stats._multivariate",
    "scipy.stats.distributions",
];

/// pandas modules (and packages) of data classes: frames, series, indexes, arrays, dtypes,
/// block managers and the Cython types behind them. Not pandas.io, pandas.core.computation,
/// pandas._libs.parsers (which reads files) or the top-level package (ExcelWriter, HDFStore
/// write files), whose needed names are exact entries.
const PANDAS_DATA_MODULES: &[&str] = &[
    "pandas.core.frame",
    "pandas.core.series",
    "pandas.core.indexes",
    "pandas.core.arrays",
    "pandas.core.dtypes",
    "pandas.core.internals",
    "pandas.core.sparse",
    "pandas._libs.tslibs",
    "pandas._libs.arrays",
    "pandas._libs.sparse",
    "pandas._libs.interval",
    "pandas._libs.internals",
];

/// statsmodels packages the CamelCase pattern does not cover: I/O, formulas (which evaluate
/// code), external programs, plotting, downloads, parallel helpers and the sandbox.
const STATSMODELS_EXCLUDED: &[&str] = &[
    "statsmodels.iolib",
    "statsmodels.formula",
    "statsmodels.sandbox",
    "statsmodels.datasets",
    "statsmodels.graphics",
    "statsmodels.tsa.x13",
    "statsmodels.tools.parallel",
    "statsmodels.tools.web",
    "statsmodels.api",
];

/// Methods that are Dangerous on any class of a package (`Class.method`, the attribute walk a
/// protocol-4 name can take), whether or not the class itself is allowed.
const DENY_METHODS: &[(&str, &str, &str)] = &[
    ("pathlib", "write_text", "writes files"),
    ("pathlib", "write_bytes", "writes files"),
    ("pathlib", "touch", "creates files"),
    ("pathlib", "mkdir", "creates directories"),
    ("pathlib", "unlink", "deletes files"),
    ("pathlib", "rmdir", "deletes directories"),
    ("pathlib", "rename", "moves files"),
    ("pathlib", "replace", "moves files over others"),
    ("pathlib", "symlink_to", "creates symbolic links"),
    ("pathlib", "hardlink_to", "creates hard links"),
    ("pathlib", "link_to", "creates hard links"),
    ("pathlib", "chmod", "changes file permissions"),
    ("pathlib", "lchmod", "changes file permissions"),
    ("pathlib", "open", "opens files for reading or writing"),
    ("pathlib", "copy", "copies files"),
    ("pathlib", "move", "moves files"),
    ("statsmodels", "load", "loads a pickle from a file"),
    ("statsmodels", "save", "writes a pickle to a file"),
    ("pandas", "to_pickle", "writes a pickle to a file"),
    ("pandas", "eval", "evaluates expressions as code"),
    ("pandas", "query", "evaluates expressions as code"),
    (
        "xgboost",
        "load_model",
        "loads a model from a file or buffer",
    ),
    ("xgboost", "save_model", "writes a model file"),
    ("lightgbm", "model_from_string", "loads a model from text"),
    ("lightgbm", "save_model", "writes a model file"),
    (
        "catboost",
        "load_model",
        "loads a model from a file or buffer",
    ),
    ("catboost", "save_model", "writes a model file"),
];

/// The Dangerous reason for `module.Class.method` if the method is on [`DENY_METHODS`] for the
/// package `module` is in.
fn deny_method(module: &str, name: &str) -> Option<&'static str> {
    let (_, method) = name.rsplit_once('.')?;
    DENY_METHODS.iter().find_map(|(pkg, denied, reason)| {
        let inside = module == *pkg
            || (module.starts_with(pkg) && module.as_bytes().get(pkg.len()) == Some(&b'.'));
        (inside && method == *denied).then_some(*reason)
    })
}

/// Modules under `sklearn.` that the CamelCase pattern does not cover: vendored copies of other
/// libraries and test helpers.
const SKLEARN_EXCLUDED: &[&str] = &[
    "sklearn.externals",
    "sklearn.utils._testing",
    "sklearn.utils.estimator_checks",
    "sklearn.utils._show_versions",
];

/// `CamelCase`: a class by convention (functions are `snake_case`), one identifier, no dots.
fn is_camel_class(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'A'..=b'Z'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Cython's generated `__pyx_unpickle_<Type>` helpers recreate an extension type from its state.
fn is_cython_unpickle(name: &str) -> bool {
    name.strip_prefix("__pyx_unpickle_").is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

/// scipy's sparse formats: `csr_matrix`, `coo_array`, ...
fn is_sparse_class(name: &str) -> bool {
    let Some((format, kind)) = name.split_once('_') else {
        return false;
    };
    ["csr", "csc", "coo", "lil", "dok", "dia", "bsr"].contains(&format)
        && (kind == "matrix" || kind == "array")
}

/// Python 3 loads Python 2 pickles (protocols 0-2) through a name map, and numpy 2 renamed
/// `numpy.core` to `numpy._core`; both spellings must get the same verdict.
pub(crate) fn normalize<'a>(module: &'a str, name: &'a str) -> (Cow<'a, str>, Cow<'a, str>) {
    let mut module: Cow<'a, str> = Cow::Borrowed(module);
    for (old, new) in MODULE_RENAMES {
        if module == *old {
            module = Cow::Borrowed(new);
            break;
        }
        if module.starts_with(old) && module.as_bytes().get(old.len()) == Some(&b'.') {
            module = Cow::Owned(format!("{new}{}", &module[old.len()..]));
            break;
        }
    }
    for (old_module, old_name, new_module, new_name) in NAME_RENAMES {
        if module == *old_module && name == *old_name {
            return (Cow::Borrowed(new_module), Cow::Borrowed(new_name));
        }
    }
    (module, Cow::Borrowed(name))
}

const MODULE_RENAMES: &[(&str, &str)] = &[
    ("__builtin__", "builtins"),
    ("exceptions", "builtins"),
    ("copy_reg", "copyreg"),
    ("cPickle", "pickle"),
    ("_operator", "operator"),
    ("_functools", "functools"),
    ("_collections", "collections"),
    ("UserDict", "collections"),
    ("UserList", "collections"),
    ("UserString", "collections"),
    ("httplib", "http.client"),
    ("urllib2", "urllib.request"),
    ("urlparse", "urllib.parse"),
    ("robotparser", "urllib.robotparser"),
    ("commands", "subprocess"),
    ("Queue", "queue"),
    ("StringIO", "io"),
    ("cStringIO", "io"),
    ("thread", "_thread"),
    ("xmlrpclib", "xmlrpc.client"),
    ("SimpleXMLRPCServer", "xmlrpc.server"),
    ("DocXMLRPCServer", "xmlrpc.server"),
    ("SocketServer", "socketserver"),
    ("cookielib", "http.cookiejar"),
    ("Cookie", "http.cookies"),
    ("BaseHTTPServer", "http.server"),
    ("SimpleHTTPServer", "http.server"),
    ("CGIHTTPServer", "http.server"),
    ("test.test_support", "test.support"),
    ("numpy._core", "numpy.core"),
];

const NAME_RENAMES: &[(&str, &str, &str, &str)] = &[
    ("builtins", "xrange", "builtins", "range"),
    ("builtins", "unicode", "builtins", "str"),
    ("builtins", "basestring", "builtins", "str"),
    ("builtins", "long", "builtins", "int"),
    ("builtins", "unichr", "builtins", "chr"),
    ("builtins", "raw_input", "builtins", "input"),
    ("builtins", "reduce", "functools", "reduce"),
    ("builtins", "intern", "sys", "intern"),
    ("itertools", "izip", "builtins", "zip"),
    ("itertools", "imap", "builtins", "map"),
    ("itertools", "ifilter", "builtins", "filter"),
    ("itertools", "ifilterfalse", "itertools", "filterfalse"),
    ("itertools", "izip_longest", "itertools", "zip_longest"),
    ("collections", "IterableUserDict", "collections", "UserDict"),
    ("whichdb", "whichdb", "dbm", "whichdb"),
];

/// Globals that deserialize their argument: a pickle (or a file that is one) handed to them is
/// loaded, so bytes passed to them are scanned as pickles too.
const LOADERS: &[&str] = &[
    "pickle.loads",
    "pickle.load",
    "pickle._loads",
    "pickle._load",
    "pickle.Unpickler",
    "pickle._Unpickler",
    "_pickle.loads",
    "_pickle.load",
    "_pickle.Unpickler",
    "dill.loads",
    "dill.load",
    "dill._dill.loads",
    "dill._dill.load",
    "cloudpickle.loads",
    "cloudpickle.load",
    "marshal.loads",
    "marshal.load",
    "torch.load",
    "torch.serialization.load",
    "torch.serialization._load",
    "torch.storage._load_from_bytes",
    "numpy.load",
    "numpy.loads",
    "numpy.lib.npyio.load",
    "numpy.lib._npyio_impl.load",
    "numpy.lib.format.read_array",
    "joblib.load",
    "joblib.numpy_pickle.load",
    "sklearn.externals.joblib.load",
    "sklearn.externals.joblib.numpy_pickle.load",
    "pandas.read_pickle",
    "pandas.io.pickle.read_pickle",
];

/// Why CPython's C test modules are denied.
const TEST_MODULE: &str = "runs code in sub-interpreters (run_in_subinterp) and crashes or \
                           corrupts the interpreter on request (a CPython C test module)";

/// Dangerous whatever name is taken from them (and from their submodules).
const DENY_MODULES: &[(&str, &str)] = &[
    // Processes and the operating system.
    (
        "os",
        "runs operating-system commands or changes files and the process",
    ),
    (
        "posix",
        "runs operating-system commands (it is os on Linux and macOS)",
    ),
    ("nt", "runs operating-system commands (it is os on Windows)"),
    ("_posixsubprocess", "starts other programs"),
    ("subprocess", "starts other programs"),
    ("commands", "runs shell commands"),
    ("popen2", "starts other programs"),
    ("pty", "starts programs on a pseudo-terminal"),
    ("pexpect", "starts and drives other programs"),
    ("sh", "runs shell commands"),
    ("plumbum", "runs shell commands"),
    ("invoke", "runs shell commands"),
    ("fabric", "runs commands on other hosts"),
    ("paramiko", "runs commands on other hosts over SSH"),
    (
        "platform",
        "runs helper programs (platform.popen and friends)",
    ),
    ("_aix_support", "runs helper programs"),
    ("_osx_support", "runs helper programs"),
    ("_pyrepl", "runs a pager program"),
    (
        "pydoc",
        "imports arbitrary modules and runs a pager program",
    ),
    (
        "_sitebuiltins",
        "starts the interactive help, which runs a pager program",
    ),
    (
        "multiprocessing",
        "starts processes and runs callables in them",
    ),
    (
        "concurrent.futures.process",
        "starts processes and runs callables in them",
    ),
    ("asyncio", "starts processes and opens network connections"),
    ("signal", "changes the process's signal handling"),
    ("atexit", "registers code to run when the process exits"),
    (
        "sys",
        "changes the interpreter (sys.modules, sys.path, hooks) or exits it",
    ),
    ("gc", "hands out every live object, including modules"),
    ("inspect", "reaches any object's frames and globals"),
    ("ctypes", "loads native libraries and calls into them"),
    ("_ctypes", "loads native libraries and calls into them"),
    ("cffi", "loads native libraries and calls into them"),
    (
        "_cffi_backend",
        "loads native libraries and calls into them",
    ),
    ("_winapi", "calls the Windows API"),
    ("winreg", "changes the Windows registry"),
    ("_winreg", "changes the Windows registry"),
    ("msvcrt", "calls the Windows C runtime"),
    // Running Python code.
    ("runpy", "runs Python modules and code"),
    ("code", "runs Python code in an interpreter"),
    ("codeop", "compiles Python code"),
    ("cmd", "dispatches commands to methods by name"),
    ("pdb", "runs code under the debugger"),
    ("bdb", "runs code under the debugger"),
    ("cProfile", "runs Python code under the profiler"),
    ("profile", "runs Python code under the profiler"),
    ("trace", "runs Python code under the tracer"),
    ("timeit", "runs Python code to time it"),
    ("doctest", "runs the Python code in docstrings"),
    ("idlelib", "runs Python code in IDLE's interpreter"),
    ("lib2to3", "evaluates Python code while building grammars"),
    (
        "test.support",
        "runs Python scripts and subprocesses (CPython's test support)",
    ),
    (
        "test.libregrtest",
        "runs Python scripts and subprocesses (CPython's test runner)",
    ),
    (
        "unittest.mock",
        "patches arbitrary attributes and calls arbitrary callables",
    ),
    ("IPython", "runs Python and shell code"),
    ("jinja2", "compiles templates into Python code"),
    ("numpy.f2py", "evaluates strings as Python code"),
    ("numpy.testing", "runs strings as Python code"),
    ("numpy.distutils", "builds and runs code"),
    (
        "numpy.lib.npyio",
        "loads .npy/.npz files, which may hold pickles",
    ),
    (
        "numpy.lib._npyio_impl",
        "loads .npy/.npz files, which may hold pickles",
    ),
    ("numpy.lib.format", "loads arrays that may hold pickles"),
    ("numpy.ctypeslib", "loads native libraries"),
    (
        "torch._inductor",
        "compiles and runs generated code and compilers",
    ),
    ("torch._dynamo", "evaluates guard expressions as code"),
    ("torch.fx", "evaluates generated Python code"),
    ("torch.jit", "loads and runs TorchScript code"),
    ("torch.package", "imports code packaged in archives"),
    (
        "torch.utils.cpp_extension",
        "compiles and loads native code",
    ),
    ("torch.utils.collect_env", "runs shell commands"),
    (
        "torch.utils.bottleneck",
        "runs Python code under the profiler",
    ),
    ("torch.utils.data.datapipes", "decodes data with pickle"),
    (
        "torch.utils._config_module",
        "loads a pickle from its argument",
    ),
    ("torch.utils.model_zoo", "downloads and loads files"),
    ("torch.testing", "runs code and subprocesses (test support)"),
    (
        "torch.multiprocessing",
        "starts processes and runs callables in them",
    ),
    (
        "torch.distributed",
        "runs code on other processes and hosts",
    ),
    ("torch.hub", "downloads and runs code from the network"),
    ("torch.serialization", "loads other pickles"),
    ("pandas.core.computation", "evaluates expressions as code"),
    ("pandas.io", "reads pickles, files and network resources"),
    ("yaml", "constructs arbitrary Python objects from YAML"),
    (
        "jsonpickle",
        "constructs arbitrary Python objects from JSON",
    ),
    // Imports.
    ("importlib", "imports arbitrary modules and code"),
    ("imp", "imports arbitrary modules and code"),
    ("pkgutil", "imports arbitrary modules by name"),
    ("zipimport", "imports code from archives"),
    ("modulefinder", "runs module code while finding imports"),
    ("site", "changes the import path and runs .pth files"),
    ("distutils", "builds and installs code and writes files"),
    ("setuptools", "builds and installs code"),
    ("pip", "installs packages (and runs their setup code)"),
    ("ensurepip", "installs packages (and runs their setup code)"),
    ("venv", "creates environments and runs pip"),
    // Deserializers: a pickle inside a pickle escapes this scan.
    ("pickle", "loads another pickle, which can run any code"),
    ("_pickle", "loads another pickle, which can run any code"),
    ("cPickle", "loads another pickle, which can run any code"),
    (
        "dill",
        "loads another pickle or rebuilds functions from code",
    ),
    ("cloudpickle", "rebuilds functions from code objects"),
    ("marshal", "loads code objects"),
    ("shelve", "loads pickles from a database file"),
    ("srsly", "loads pickles"),
    (
        "joblib.externals",
        "rebuilds functions from code objects or starts processes",
    ),
    (
        "sklearn.externals.joblib.externals",
        "rebuilds functions from code objects",
    ),
    ("joblib.parallel", "runs callables in worker processes"),
    // Files.
    ("shutil", "copies, moves or deletes files"),
    ("tempfile", "creates files and directories"),
    ("fileinput", "reads and rewrites files in place"),
    ("tarfile", "extracts archives onto the disk"),
    ("zipfile", "extracts archives onto the disk"),
    ("sqlite3", "opens and writes database files"),
    ("dbm", "opens and writes database files"),
    ("_io", "opens files"),
    ("fcntl", "manipulates file descriptors"),
    // Network.
    ("socket", "opens network connections"),
    ("_socket", "opens network connections"),
    ("ssl", "opens network connections"),
    ("http", "opens network connections or serves HTTP"),
    ("httplib", "opens network connections"),
    ("urllib", "fetches URLs"),
    ("urllib2", "fetches URLs"),
    ("urllib3", "fetches URLs"),
    ("requests", "fetches URLs"),
    ("httpx", "fetches URLs"),
    ("aiohttp", "fetches URLs"),
    ("ftplib", "opens network connections"),
    ("smtplib", "opens network connections"),
    ("smtpd", "serves network connections"),
    ("telnetlib", "opens network connections"),
    (
        "imaplib",
        "opens network connections or runs commands (IMAP4_stream)",
    ),
    ("poplib", "opens network connections"),
    ("nntplib", "opens network connections"),
    ("xmlrpc", "calls remote procedures"),
    ("xmlrpclib", "calls remote procedures"),
    ("socketserver", "serves network connections"),
    ("SocketServer", "serves network connections"),
    ("asyncore", "serves network connections"),
    ("asynchat", "serves network connections"),
    ("webbrowser", "starts a browser on a URL"),
    (
        "logging.config",
        "listens for and applies logging configuration, which can import code",
    ),
    (
        "logging.handlers",
        "writes files and opens network connections",
    ),
    // Found by the standard-library review (docs/model-scanning.md, "How the denylist was
    // reviewed"): modules whose callables reach exec/eval, processes, other interpreters, native
    // code, imports, pickle re-entry or file writes that later run.
    (
        "_xxsubinterpreters",
        "runs Python code in a sub-interpreter (run_string)",
    ),
    (
        "_interpreters",
        "runs Python code in a sub-interpreter (run_string, exec)",
    ),
    (
        "_xxinterpchannels",
        "passes objects between interpreters that run code",
    ),
    (
        "_interpchannels",
        "passes objects between interpreters that run code",
    ),
    (
        "_xxinterpqueues",
        "passes objects between interpreters that run code",
    ),
    (
        "_interpqueues",
        "passes objects between interpreters that run code",
    ),
    (
        "concurrent",
        "runs callables in threads, processes or sub-interpreters",
    ),
    ("_testcapi", TEST_MODULE),
    ("_testinternalcapi", TEST_MODULE),
    ("_testlimitedcapi", TEST_MODULE),
    ("_testmultiphase", TEST_MODULE),
    ("_testsinglephase", TEST_MODULE),
    ("_testimportmultiple", TEST_MODULE),
    ("_testbuffer", TEST_MODULE),
    ("_testclinic", TEST_MODULE),
    ("_testclinic_limited", TEST_MODULE),
    ("_testexternalinspection", TEST_MODULE),
    ("_testconsole", TEST_MODULE),
    ("_ctypes_test", TEST_MODULE),
    ("_xxtestfuzz", TEST_MODULE),
    ("xxsubtype", TEST_MODULE),
    ("xxlimited", TEST_MODULE),
    ("xxlimited_35", TEST_MODULE),
    (
        "test",
        "runs scripts, subprocesses and code (CPython's regression-test package)",
    ),
    ("_bootsubprocess", "starts other programs"),
    ("pipes", "builds and runs shell pipelines"),
    (
        "mailcap",
        "builds shell commands from mailcap entries and runs them",
    ),
    (
        "_imp",
        "loads native extension modules and runs module code",
    ),
    (
        "_frozen_importlib",
        "imports arbitrary modules and code (importlib's bootstrap)",
    ),
    (
        "_frozen_importlib_external",
        "imports arbitrary modules and code (importlib's bootstrap)",
    ),
    ("pkg_resources", "imports the code entry points name"),
    ("_distutils_hack", "changes the import system"),
    ("zipapp", "writes executable Python archives"),
    ("compileall", "writes bytecode files that later imports run"),
    ("py_compile", "writes bytecode files that later imports run"),
    ("dataclasses", "generates class code and runs it with exec"),
    ("rlcompleter", "evaluates expressions while completing"),
    (
        "tkinter",
        "runs Tcl code (which can start programs) and GUI callbacks",
    ),
    (
        "_tkinter",
        "runs Tcl code (which can start programs) and GUI callbacks",
    ),
    (
        "Tkinter",
        "runs Tcl code (which can start programs) and GUI callbacks",
    ),
    (
        "turtle",
        "evaluates its configuration file and runs Tcl code",
    ),
    ("turtledemo", "runs demo scripts and Tcl code"),
    ("antigravity", "opens a web browser when imported"),
    (
        "unittest",
        "imports modules by name and calls what it finds (TestLoader, main)",
    ),
    (
        "_lsprof",
        "calls a timer callable of the file's choosing on every event",
    ),
    ("_thread", "starts threads that run callables"),
    ("threading", "starts threads that run callables"),
    ("_dummy_thread", "runs callables as if in threads"),
    ("dummy_threading", "runs callables as if in threads"),
    ("sched", "runs scheduled callables"),
    (
        "faulthandler",
        "crashes the interpreter on request and writes to file descriptors",
    ),
    ("_posixshmem", "creates and removes shared-memory files"),
    (
        "_multiprocessing",
        "starts processes and runs callables in them",
    ),
    (
        "mmap",
        "maps files and file descriptors into memory (and writes through them)",
    ),
    (
        "resource",
        "changes resource limits of this and other processes",
    ),
    (
        "readline",
        "writes history files and installs hooks that run callables",
    ),
    (
        "getpass",
        "reads from the terminal (blocks the loading process)",
    ),
    (
        "copy",
        "rebuilds objects by calling the callables their reduce methods name (copy._reconstruct)",
    ),
    (
        "_sqlite3",
        "opens and writes database files and loads native extensions",
    ),
    ("_dbm", "opens and writes database files"),
    ("_gdbm", "opens and writes database files"),
    ("_pyio", "opens files for reading or writing"),
    ("_signal", "changes the process's signal handling"),
    ("_asyncio", "runs coroutines and callbacks"),
    ("_overlapped", "performs Windows I/O"),
    ("_msi", "writes Windows Installer databases"),
    ("msilib", "writes Windows Installer databases"),
    ("wsgiref", "serves HTTP"),
    ("mailbox", "creates and writes mailbox files"),
    ("cgitb", "hooks exceptions and writes reports to files"),
    (
        "uuid",
        "runs helper programs (ifconfig, ip, arp, netstat, lanscan) or loads native libraries to \
         find the MAC address",
    ),
    // Model libraries: their loaders, I/O and code-running corners (their model classes are on
    // the allowlist).
    (
        "statsmodels.iolib",
        "loads pickles (smpickle.load_pickle) and writes files",
    ),
    ("statsmodels.tsa.x13", "runs the X-13ARIMA-SEATS program"),
    (
        "scipy.io",
        "reads and writes data files (loadmat, savemat, mmwrite, wavfile)",
    ),
    ("scipy.weave", "compiles and runs C++ code"),
];

/// Dangerous single names (full `module.name` after normalization).
const DENY_EXACT: &[(&str, &str)] = &[
    ("os.system", "executes a shell command"),
    ("posix.system", "executes a shell command"),
    ("nt.system", "executes a shell command"),
    ("os.popen", "executes a shell command"),
    ("subprocess.Popen", "starts another program"),
    ("subprocess.call", "starts another program"),
    ("subprocess.run", "starts another program"),
    ("subprocess.check_output", "starts another program"),
    ("subprocess.getoutput", "executes a shell command"),
    ("builtins.eval", "evaluates arbitrary Python code"),
    ("builtins.exec", "executes arbitrary Python code"),
    ("builtins.execfile", "executes a Python file"),
    ("builtins.compile", "compiles arbitrary Python code"),
    ("builtins.__import__", "imports arbitrary modules"),
    (
        "builtins.getattr",
        "fetches arbitrary attributes (e.g. a module's system function)",
    ),
    (
        "builtins.setattr",
        "overwrites attributes of modules and classes",
    ),
    (
        "builtins.delattr",
        "deletes attributes of modules and classes",
    ),
    ("builtins.open", "opens files for reading or writing"),
    ("builtins.file", "opens files for reading or writing"),
    ("builtins.input", "reads from the terminal"),
    ("builtins.breakpoint", "starts the debugger"),
    ("builtins.globals", "hands out a module's globals"),
    ("builtins.locals", "hands out a frame's locals"),
    (
        "builtins.vars",
        "hands out an object's attribute dictionary",
    ),
    ("builtins.apply", "calls arbitrary callables"),
    ("builtins.reload", "re-executes module code"),
    (
        "builtins.help",
        "starts the interactive help, which runs a pager program",
    ),
    ("builtins.exit", "exits the interpreter"),
    ("builtins.quit", "exits the interpreter"),
    (
        "operator.attrgetter",
        "fetches arbitrary attributes by name (a getattr in disguise)",
    ),
    ("operator.methodcaller", "calls arbitrary methods by name"),
    ("functools.reduce", "calls arbitrary callables"),
    (
        "copyreg.add_extension",
        "registers extension codes that later EXT opcodes resolve",
    ),
    ("copyreg.remove_extension", "changes the extension registry"),
    (
        "copyreg.clear_extension_cache",
        "changes the extension registry",
    ),
    (
        "copyreg._extension_registry",
        "changes the extension registry",
    ),
    (
        "copyreg._inverted_registry",
        "changes the extension registry",
    ),
    ("copyreg._extension_cache", "changes the extension registry"),
    ("copyreg.dispatch_table", "changes how objects are pickled"),
    ("copyreg.pickle", "changes how objects are pickled"),
    ("types.CodeType", "builds code objects"),
    ("types.FunctionType", "builds functions from code objects"),
    ("types.LambdaType", "builds functions from code objects"),
    ("io.open", "opens files for reading or writing"),
    ("io.open_code", "opens files"),
    ("io.FileIO", "opens files for reading or writing"),
    ("codecs.open", "opens files for reading or writing"),
    ("logging.FileHandler", "creates or appends to files"),
    ("logging.basicConfig", "creates log files"),
    (
        "numpy.load",
        "loads .npy/.npz files, which may hold pickles",
    ),
    ("numpy.loads", "loads another pickle"),
    ("numpy.save", "writes files"),
    ("numpy.savez", "writes files"),
    ("torch.load", "loads another pickle"),
    (
        "torch.storage._load_from_bytes",
        "loads another pickle (torch.load of its bytes)",
    ),
    (
        "torch._utils._import_dotted_name",
        "imports arbitrary modules by name",
    ),
    ("torch.save", "writes files"),
    ("joblib.load", "loads another pickle"),
    ("joblib.dump", "writes files"),
    ("joblib.Parallel", "runs callables in worker processes"),
    ("joblib.numpy_pickle.load", "loads another pickle"),
    ("joblib.numpy_pickle.NumpyUnpickler", "loads another pickle"),
    ("sklearn.externals.joblib.load", "loads another pickle"),
    (
        "sklearn.externals.joblib.numpy_pickle.load",
        "loads another pickle",
    ),
    ("pandas.read_pickle", "loads another pickle"),
    ("pandas.eval", "evaluates expressions as code"),
    ("pandas.DataFrame.eval", "evaluates expressions as code"),
    ("pandas.DataFrame.query", "evaluates expressions as code"),
    (
        "pandas.core.frame.DataFrame.eval",
        "evaluates expressions as code",
    ),
    (
        "pandas.core.frame.DataFrame.query",
        "evaluates expressions as code",
    ),
    (
        "keras.models.load_model",
        "loads a model that may hold Lambda layers (code)",
    ),
    (
        "keras.saving.load_model",
        "loads a model that may hold Lambda layers (code)",
    ),
    (
        "tensorflow.keras.models.load_model",
        "loads a model that may hold Lambda layers (code)",
    ),
    ("uuid._get_command_stdout", "runs a helper program"),
    ("uuid._popen", "runs a helper program"),
    // Found by the standard-library review (docs/model-scanning.md).
    (
        "typing._eval_type",
        "evaluates type annotations given as strings with eval",
    ),
    (
        "typing.get_type_hints",
        "evaluates an object's string annotations (__annotations__) with eval",
    ),
    (
        "typing.ForwardRef",
        "compiles a string that it evaluates with eval",
    ),
    (
        "typing.ForwardRef._evaluate",
        "evaluates a string with eval",
    ),
    (
        "typing.evaluate_forward_ref",
        "evaluates a string with eval",
    ),
    (
        "gettext.c2py",
        "turns a plural-forms expression into Python code and runs it",
    ),
    ("optparse.Values.read_file", "executes a Python file"),
    ("optparse.Values.read_module", "imports a module by name"),
    (
        "warnings._getcategory",
        "imports a module named in its argument",
    ),
    (
        "warnings._setoption",
        "imports a module named in its argument",
    ),
    (
        "warnings._processoptions",
        "imports modules named in its argument",
    ),
    (
        "xml.sax.make_parser",
        "imports modules named in its argument and calls their create_parser",
    ),
    (
        "xml.sax._create_parser",
        "imports a module named in its argument and calls its create_parser",
    ),
    (
        "xml.dom.domreg.getDOMImplementation",
        "imports a module named in its argument",
    ),
    (
        "xml.dom.getDOMImplementation",
        "imports a module named in its argument",
    ),
    (
        "xml.dom.domreg.registerDOMImplementation",
        "registers a factory that later lookups call",
    ),
    (
        "xml.dom.registerDOMImplementation",
        "registers a factory that later lookups call",
    ),
    ("tracemalloc.Snapshot.load", "loads a pickle from a file"),
    ("operator.call", "calls arbitrary callables"),
    ("builtins.map", "calls arbitrary callables (when consumed)"),
    (
        "builtins.filter",
        "calls arbitrary callables (when consumed)",
    ),
    ("builtins.iter", "calls arbitrary callables (when consumed)"),
    (
        "itertools.starmap",
        "calls arbitrary callables (when consumed)",
    ),
    (
        "types.new_class",
        "creates a class and calls a callback with its namespace",
    ),
    ("types.prepare_class", "calls a metaclass's __prepare__"),
    ("types.MethodType", "binds arbitrary callables to objects"),
    (
        "types.CellType",
        "builds closure cells for functions rebuilt from code",
    ),
    (
        "weakref.finalize",
        "calls arbitrary callables when an object dies or the process exits",
    ),
    (
        "codecs.register",
        "installs a callable that later codec lookups call",
    ),
    (
        "_codecs.register",
        "installs a callable that later codec lookups call",
    ),
    (
        "codecs.register_error",
        "installs a callable that encoding errors call",
    ),
    (
        "_codecs.register_error",
        "installs a callable that encoding errors call",
    ),
    (
        "logging.setLogRecordFactory",
        "installs a callable that every log call runs",
    ),
    (
        "logging.setLoggerClass",
        "changes the class every new logger is made from",
    ),
    (
        "gzip.open",
        "opens files for writing (creates or truncates them)",
    ),
    (
        "gzip.GzipFile",
        "opens files for writing (creates or truncates them)",
    ),
    (
        "bz2.open",
        "opens files for writing (creates or truncates them)",
    ),
    (
        "bz2.BZ2File",
        "opens files for writing (creates or truncates them)",
    ),
    (
        "lzma.open",
        "opens files for writing (creates or truncates them)",
    ),
    (
        "lzma.LZMAFile",
        "opens files for writing (creates or truncates them)",
    ),
    (
        "scipy.LowLevelCallable",
        "calls native code through a function pointer",
    ),
    (
        "scipy._lib._ccallback.LowLevelCallable",
        "calls native code through a function pointer",
    ),
];

/// The built-in allowlist: exact `module.name` (normalized: `builtins`, `copyreg`, `numpy.core`).
const ALLOW_EXACT: &[&str] = &[
    // Standard containers and plain values.
    "builtins.set",
    "builtins.frozenset",
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.slice",
    "builtins.range",
    "builtins.complex",
    "builtins.bytearray",
    "builtins.bytes",
    "builtins.object",
    "builtins.int",
    "builtins.float",
    "builtins.str",
    "builtins.bool",
    "builtins.Ellipsis",
    "builtins.NotImplemented",
    "collections.OrderedDict",
    "collections.defaultdict",
    "collections.deque",
    "collections.Counter",
    "copyreg._reconstructor",
    "copyreg.__newobj__",
    "copyreg.__newobj_ex__",
    "_codecs.encode",
    "codecs.encode",
    "datetime.datetime",
    "datetime.date",
    "datetime.time",
    "datetime.timedelta",
    "datetime.timezone",
    "decimal.Decimal",
    "fractions.Fraction",
    "uuid.UUID",
    "uuid.SafeUUID",
    "pathlib.Path",
    "pathlib.PosixPath",
    "pathlib.WindowsPath",
    "pathlib.PurePosixPath",
    "pathlib.PureWindowsPath",
    "array.array",
    "array._array_reconstructor",
    "re._compile",
    "types.SimpleNamespace",
    // numpy: arrays, dtypes, scalars, random state, masked arrays, matrices.
    "numpy.ndarray",
    "numpy.dtype",
    "numpy.matrix",
    "numpy.recarray",
    "numpy.record",
    "numpy.core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar",
    "numpy.core.numeric._frombuffer",
    "numpy.core._ufunc_reconstruct",
    "numpy.core.records.recarray",
    "numpy.core.records.record",
    "numpy.matrixlib.defmatrix.matrix",
    "numpy.ma.core._mareconstruct",
    "numpy.ma.core.MaskedArray",
    "numpy.ma.core.MaskedConstant",
    "numpy.random._pickle.__randomstate_ctor",
    "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random._pickle.__generator_ctor",
    "numpy.random.__RandomState_ctor",
    "numpy.random.mtrand.RandomState",
    "numpy.random.mtrand.__RandomState_ctor",
    "numpy.random._mt19937.MT19937",
    "numpy.random._pcg64.PCG64",
    "numpy.random._pcg64.PCG64DXSM",
    "numpy.random._philox.Philox",
    "numpy.random._sfc64.SFC64",
    "numpy.random._generator.Generator",
    "numpy.random.bit_generator.SeedSequence",
    "numpy.random.bit_generator.__pyx_unpickle_SeedSequence",
    "numpy.bool_",
    "numpy.bool",
    "numpy.object_",
    "numpy.str_",
    "numpy.bytes_",
    "numpy.void",
    "numpy.int8",
    "numpy.int16",
    "numpy.int32",
    "numpy.int64",
    "numpy.uint8",
    "numpy.uint16",
    "numpy.uint32",
    "numpy.uint64",
    "numpy.intc",
    "numpy.uintc",
    "numpy.intp",
    "numpy.uintp",
    "numpy.int_",
    "numpy.uint",
    "numpy.longlong",
    "numpy.ulonglong",
    "numpy.byte",
    "numpy.ubyte",
    "numpy.short",
    "numpy.ushort",
    "numpy.float16",
    "numpy.float32",
    "numpy.float64",
    "numpy.float128",
    "numpy.float_",
    "numpy.half",
    "numpy.single",
    "numpy.double",
    "numpy.longdouble",
    "numpy.complex64",
    "numpy.complex128",
    "numpy.complex256",
    "numpy.complex_",
    "numpy.csingle",
    "numpy.cdouble",
    "numpy.clongdouble",
    "numpy.datetime64",
    "numpy.timedelta64",
    "numpy.number",
    "numpy.generic",
    "numpy.integer",
    "numpy.signedinteger",
    "numpy.unsignedinteger",
    "numpy.floating",
    "numpy.inexact",
    "numpy.complexfloating",
    "numpy.character",
    "numpy.flexible",
    // numpy functions that estimators keep as parameters (pure arithmetic).
    "numpy.mean",
    "numpy.median",
    "numpy.average",
    "numpy.sum",
    "numpy.prod",
    "numpy.std",
    "numpy.var",
    "numpy.min",
    "numpy.max",
    "numpy.amin",
    "numpy.amax",
    "numpy.nanmean",
    "numpy.nanmedian",
    "numpy.nansum",
    "numpy.percentile",
    "numpy.quantile",
    "numpy.argmax",
    "numpy.argmin",
    "numpy.log",
    "numpy.log1p",
    "numpy.log2",
    "numpy.log10",
    "numpy.exp",
    "numpy.expm1",
    "numpy.sqrt",
    "numpy.square",
    "numpy.abs",
    "numpy.absolute",
    "numpy.sign",
    "numpy.clip",
    "numpy.round",
    "numpy.floor",
    "numpy.ceil",
    "numpy.tanh",
    "numpy.sin",
    "numpy.cos",
    "numpy.arcsinh",
    "numpy.arctan",
    "numpy.power",
    "numpy.add",
    "numpy.subtract",
    "numpy.multiply",
    "numpy.divide",
    "numpy.true_divide",
    "numpy.maximum",
    "numpy.minimum",
    "numpy.isnan",
    "numpy.isfinite",
    "numpy.nan_to_num",
    // scipy (besides the sparse-format pattern).
    "scipy.sparse._sputils.get_index_dtype",
    // scipy: what fitted interpolators, KD-trees, optimizer results and frozen distributions
    // pickle (the distribution classes and sparse formats are patterns).
    "scipy.interpolate._interpolate.interp1d",
    "scipy.interpolate.interpolate.interp1d",
    "scipy.interpolate._interpolate.interp1d._call_linear_np",
    "scipy.interpolate._interpolate.interp1d._call_linear",
    "scipy.interpolate._interpolate.interp1d._call_nearest",
    "scipy.interpolate._interpolate.interp1d._call_previousnext",
    "scipy.interpolate._interpolate.interp1d._call_spline",
    "scipy.interpolate._interpolate.interp1d._call_nan_spline",
    "scipy._lib.array_api_compat.numpy._aliases.asarray",
    "scipy.spatial._ckdtree.cKDTree",
    "scipy.spatial.ckdtree.cKDTree",
    "scipy.optimize._optimize.OptimizeResult",
    "scipy.optimize.optimize.OptimizeResult",
    "scipy.optimize._lbfgsb_py.LbfgsInvHessProduct",
    "scipy.optimize.lbfgsb.LbfgsInvHessProduct",
    "scipy.stats._kde.gaussian_kde",
    "scipy.stats.kde.gaussian_kde",
    // numpy.vectorize: scipy.stats distributions keep their vectorized methods in it (it calls
    // the function it wraps only when the application calls it).
    "numpy.vectorize",
    "numpy.lib.function_base.vectorize",
    "numpy.lib._function_base_impl.vectorize",
    // Python 3.13 pickles pathlib classes under pathlib._local.
    "pathlib._local.Path",
    "pathlib._local.PosixPath",
    "pathlib._local.WindowsPath",
    "pathlib._local.PurePath",
    "pathlib._local.PurePosixPath",
    "pathlib._local.PureWindowsPath",
    // pandas: the public classes a DataFrame, Series or Index pickle names (classes under
    // pandas.core's data modules and pandas._libs are patterns), and the reconstructors its
    // __reduce__ methods return. Not pandas.read_pickle, pandas.io or pandas.eval.
    "pandas.DataFrame",
    "pandas.Series",
    "pandas.Index",
    "pandas.MultiIndex",
    "pandas.RangeIndex",
    "pandas.DatetimeIndex",
    "pandas.TimedeltaIndex",
    "pandas.PeriodIndex",
    "pandas.IntervalIndex",
    "pandas.CategoricalIndex",
    "pandas.Categorical",
    "pandas.CategoricalDtype",
    "pandas.DatetimeTZDtype",
    "pandas.PeriodDtype",
    "pandas.IntervalDtype",
    "pandas.SparseDtype",
    "pandas.StringDtype",
    "pandas.BooleanDtype",
    "pandas.Int8Dtype",
    "pandas.Int16Dtype",
    "pandas.Int32Dtype",
    "pandas.Int64Dtype",
    "pandas.UInt8Dtype",
    "pandas.UInt16Dtype",
    "pandas.UInt32Dtype",
    "pandas.UInt64Dtype",
    "pandas.Float32Dtype",
    "pandas.Float64Dtype",
    "pandas.Interval",
    "pandas.Period",
    "pandas.Timestamp",
    "pandas.Timedelta",
    "pandas.NA",
    "pandas.NaT",
    "pandas.arrays.BooleanArray",
    "pandas.arrays.DatetimeArray",
    "pandas.arrays.FloatingArray",
    "pandas.arrays.IntegerArray",
    "pandas.arrays.IntervalArray",
    "pandas.arrays.NumpyExtensionArray",
    "pandas.arrays.PandasArray",
    "pandas.arrays.PeriodArray",
    "pandas.arrays.SparseArray",
    "pandas.arrays.StringArray",
    "pandas.arrays.TimedeltaArray",
    "pandas._libs.internals._unpickle_block",
    "pandas._libs.tslibs.nattype._nat_unpickle",
    "pandas._libs.tslibs.timedeltas._timedelta_unpickle",
    "pandas._libs.tslibs.timestamps._unpickle_timestamp",
    "pandas.core.indexes.base._new_Index",
    "pandas.core.indexes.datetimes._new_DatetimeIndex",
    "pandas.core.indexes.interval._new_IntervalIndex",
    "pandas.core.indexes.period._new_PeriodIndex",
    "pandas.core.indexes.timedeltas._new_TimedeltaIndex",
    // xgboost, LightGBM, CatBoost: boosters and their scikit-learn wrappers (their state is the
    // library's own model format, parsed natively). Not their load_model functions.
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBModel",
    "xgboost.sklearn.XGBClassifier",
    "xgboost.sklearn.XGBRegressor",
    "xgboost.sklearn.XGBRanker",
    "xgboost.sklearn.XGBRFClassifier",
    "xgboost.sklearn.XGBRFRegressor",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMModel",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "lightgbm.sklearn.LGBMRanker",
    "catboost.core.CatBoost",
    "catboost.core.CatBoostClassifier",
    "catboost.core.CatBoostRegressor",
    "catboost.core.CatBoostRanker",
    // statsmodels: the lower-case link classes older versions pickled (the CamelCase classes
    // are a pattern).
    "statsmodels.genmod.families.links.logit",
    "statsmodels.genmod.families.links.inverse_power",
    "statsmodels.genmod.families.links.sqrt",
    "statsmodels.genmod.families.links.inverse_squared",
    "statsmodels.genmod.families.links.identity",
    "statsmodels.genmod.families.links.log",
    "statsmodels.genmod.families.links.logc",
    "statsmodels.genmod.families.links.probit",
    "statsmodels.genmod.families.links.cauchy",
    "statsmodels.genmod.families.links.cloglog",
    "statsmodels.genmod.families.links.loglog",
    "statsmodels.genmod.families.links.nbinom",
    // joblib's array placeholders.
    "joblib.numpy_pickle.NumpyArrayWrapper",
    "joblib.numpy_pickle_compat.NDArrayWrapper",
    "joblib.numpy_pickle_compat.ZNDArrayWrapper",
    "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
    "sklearn.externals.joblib.numpy_pickle_compat.NDArrayWrapper",
    "sklearn.externals.joblib.numpy_pickle_compat.ZNDArrayWrapper",
    // scikit-learn functions kept as attributes (classes match the CamelCase pattern).
    "sklearn.metrics._scorer._passthrough_scorer",
    "sklearn.preprocessing._function_transformer._identity",
    // PyTorch: tensors, storages, parameters and their attributes.
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch._utils._rebuild_parameter_v2",
    "torch._utils._rebuild_qtensor",
    "torch._utils._rebuild_sparse_tensor",
    "torch._utils._rebuild_sparse_csr_tensor",
    "torch._utils._rebuild_nested_tensor",
    "torch._utils._rebuild_device_tensor_from_numpy",
    "torch._utils._rebuild_device_tensor_from_cpu_tensor",
    "torch._utils._rebuild_meta_tensor_no_storage",
    "torch._utils._rebuild_wrapper_subclass",
    "torch._utils._rebuild_mkldnn_tensor",
    "torch._utils._rebuild_buffer",
    "torch._tensor._rebuild_from_type",
    "torch._tensor._rebuild_from_type_v2",
    "torch.serialization._get_layout",
    "torch.Tensor",
    "torch._tensor.Tensor",
    "torch.Size",
    "torch.device",
    "torch.dtype",
    "torch.layout",
    "torch.memory_format",
    "torch.nn.Parameter",
    "torch.nn.parameter.Parameter",
    "torch.nn.parameter.Buffer",
    "torch.nn.parameter.UninitializedParameter",
    "torch.nn.parameter.UninitializedBuffer",
    "torch.storage.TypedStorage",
    "torch.storage.UntypedStorage",
    "torch.storage._TypedStorage",
    "torch.storage._UntypedStorage",
    "torch.UntypedStorage",
    "torch.TypedStorage",
    "torch.FloatStorage",
    "torch.DoubleStorage",
    "torch.HalfStorage",
    "torch.BFloat16Storage",
    "torch.LongStorage",
    "torch.IntStorage",
    "torch.ShortStorage",
    "torch.CharStorage",
    "torch.ByteStorage",
    "torch.BoolStorage",
    "torch.ComplexFloatStorage",
    "torch.ComplexDoubleStorage",
    "torch.QUInt8Storage",
    "torch.QInt8Storage",
    "torch.QInt32Storage",
    "torch.QUInt4x2Storage",
    "torch.QUInt2x4Storage",
    "torch.float",
    "torch.float16",
    "torch.float32",
    "torch.float64",
    "torch.double",
    "torch.half",
    "torch.bfloat16",
    "torch.float8_e4m3fn",
    "torch.float8_e5m2",
    "torch.float8_e4m3fnuz",
    "torch.float8_e5m2fnuz",
    "torch.int",
    "torch.int8",
    "torch.int16",
    "torch.int32",
    "torch.int64",
    "torch.long",
    "torch.short",
    "torch.uint8",
    "torch.uint16",
    "torch.uint32",
    "torch.uint64",
    "torch.bool",
    "torch.complex32",
    "torch.complex64",
    "torch.complex128",
    "torch.cfloat",
    "torch.cdouble",
    "torch.chalf",
    "torch.qint8",
    "torch.quint8",
    "torch.qint32",
    "torch.quint4x2",
    "torch.quint2x4",
    "torch.strided",
    "torch.sparse_coo",
    "torch.sparse_csr",
    "torch.sparse_csc",
    "torch.sparse_bsr",
    "torch.sparse_bsc",
    "torch._mkldnn",
    "torch.contiguous_format",
    "torch.channels_last",
    "torch.channels_last_3d",
    "torch.preserve_format",
    "torch.per_tensor_affine",
    "torch.per_channel_affine",
    "torch.per_tensor_symmetric",
    "torch.per_channel_symmetric",
    "torch.per_channel_affine_float_qparams",
];

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("os", "system")]
    #[case("posix", "system")]
    #[case("nt", "system")]
    #[case("subprocess", "Popen")]
    #[case("subprocess", "check_call")]
    #[case("builtins", "eval")]
    #[case("__builtin__", "eval")]
    #[case("__builtin__", "apply")]
    #[case("__builtin__", "execfile")]
    #[case("builtins", "getattr")]
    #[case("builtins", "__import__")]
    #[case("commands", "getoutput")]
    #[case("httplib", "HTTPSConnection")]
    #[case("requests.api", "get")]
    #[case("aiohttp.client", "ClientSession")]
    #[case("socket", "create_connection")]
    #[case("sys", "exit")]
    #[case("runpy", "_run_code")]
    #[case("pickle", "loads")]
    #[case("_pickle", "loads")]
    #[case("cPickle", "loads")]
    #[case("dill._dill", "_create_function")]
    #[case("cloudpickle.cloudpickle", "_make_function")]
    #[case("torch", "load")]
    #[case("torch.serialization", "load")]
    #[case("torch.jit", "load")]
    #[case("torch.hub", "load")]
    #[case("torch._inductor.codecache", "compile_file")]
    #[case("torch.utils.collect_env", "run")]
    #[case("torch.utils.bottleneck.__main__", "run_cprofile")]
    #[case(
        "torch.fx.experimental.symbolic_shapes",
        "ShapeEnv.evaluate_guards_expression"
    )]
    #[case("numpy", "load")]
    #[case("numpy.f2py.crackfortran", "getlincoef")]
    #[case("numpy.testing._private.utils", "runstring")]
    #[case("joblib", "load")]
    #[case("timeit", "timeit")]
    #[case("bdb", "Bdb.run")]
    #[case("pydoc", "locate")]
    #[case("pkgutil", "resolve_name")]
    #[case("operator", "attrgetter")]
    #[case("_operator", "methodcaller")]
    #[case("types", "CodeType")]
    #[case("_io", "FileIO")]
    #[case("logging", "FileHandler")]
    #[case("urllib.request", "urlopen")]
    #[case("idlelib.pyshell", "ModifiedInterpreter.runcode")]
    #[case("lib2to3.pgen2.grammar", "Grammar.loads")]
    #[case("test.support.script_helper", "assert_python_ok")]
    #[case("uuid", "_get_command_stdout")]
    #[case("imaplib", "IMAP4_stream")]
    #[case("venv", "create")]
    #[case("ensurepip", "_run_pip")]
    #[case("distutils.file_util", "write_file")]
    #[case("copy_reg", "add_extension")]
    #[case("asyncio.unix_events", "_UnixSubprocessTransport._start")]
    // Attribute walks through a module that imported a dangerous one.
    #[case("torch.serialization", "os.system")]
    #[case("collections", "_sys.modules")]
    #[case("sklearn.base", "os.system")]
    #[case("numpy", "core.multiarray.os.system")]
    // Dunder walks.
    #[case("collections", "OrderedDict.__init__.__globals__")]
    #[case("builtins", "__builtins__")]
    #[case("torch", "__builtins__")]
    fn dangerous(#[case] module: &str, #[case] name: &str) {
        let c = Policy::default().check(module, name);
        assert_eq!(c.verdict, Verdict::Dangerous, "{module}.{name}: {c:?}");
        assert!(!c.reason.is_empty());
    }

    #[rstest]
    #[case("builtins", "set")]
    #[case("__builtin__", "set")]
    #[case("__builtin__", "xrange")]
    #[case("__builtin__", "unicode")]
    #[case("builtins", "object")]
    #[case("collections", "OrderedDict")]
    #[case("collections", "defaultdict")]
    #[case("copy_reg", "_reconstructor")]
    #[case("copyreg", "__newobj__")]
    #[case("_codecs", "encode")]
    #[case("numpy", "ndarray")]
    #[case("numpy", "dtype")]
    #[case("numpy.core.multiarray", "_reconstruct")]
    #[case("numpy._core.multiarray", "_reconstruct")]
    #[case("numpy.core.multiarray", "scalar")]
    #[case("numpy._core.multiarray", "scalar")]
    #[case("numpy.random._pickle", "__randomstate_ctor")]
    #[case("numpy.random._pickle", "__bit_generator_ctor")]
    #[case("numpy", "float64")]
    #[case("numpy.dtypes", "Float64DType")]
    #[case("joblib.numpy_pickle", "NumpyArrayWrapper")]
    #[case("sklearn.ensemble._forest", "RandomForestClassifier")]
    #[case("sklearn.tree._classes", "DecisionTreeClassifier")]
    #[case("sklearn.tree._tree", "Tree")]
    #[case("sklearn._loss._loss", "__pyx_unpickle_CyHalfSquaredError")]
    #[case("sklearn.pipeline", "Pipeline")]
    #[case("scipy.sparse._csr", "csr_matrix")]
    #[case("scipy.sparse.csc", "csc_matrix")]
    #[case("scipy.sparse._coo", "coo_array")]
    #[case("torch._utils", "_rebuild_tensor_v2")]
    #[case("torch._utils", "_rebuild_parameter")]
    #[case("torch", "FloatStorage")]
    #[case("torch", "Size")]
    #[case("torch", "device")]
    #[case("torch", "float32")]
    #[case("torch", "bfloat16")]
    #[case("torch.serialization", "_get_layout")]
    #[case("torch.nn.modules.linear", "Linear")]
    #[case("torch.nn.parameter", "Parameter")]
    #[case("uuid", "UUID")]
    fn allowed(#[case] module: &str, #[case] name: &str) {
        let c = Policy::default().check(module, name);
        assert_eq!(c.verdict, Verdict::Allowed, "{module}.{name}: {c:?}");
    }

    #[rstest]
    #[case("__main__", "MyModel")]
    #[case("functools", "partial")]
    #[case("operator", "itemgetter")]
    #[case("builtins", "print")]
    #[case("builtins", "type")]
    #[case("sklearn.utils", "check_array")] // a function: not the class pattern
    #[case("sklearn.externals.joblib", "Parallel")] // excluded subtree
    #[case("collections", "OrderedDict.fromkeys")] // a dotted walk is not the class itself
    #[case("scipy.sparse", "random")]
    #[case("numpy", "memmap")]
    #[case("os_utils", "helper")] // module names compare exactly: not `os`
    #[case("mymodel.code", "Encoder")] // a user module named code is not the stdlib `code`
    #[case("", "system")]
    fn unknown(#[case] module: &str, #[case] name: &str) {
        let c = Policy::default().check(module, name);
        assert_eq!(c.verdict, Verdict::Unknown, "{module}.{name}: {c:?}");
    }

    /// Every callable the standard-library review (docs/model-scanning.md) and the model-library
    /// allowlist added to the denylist: one name from each newly denied module, each new exact
    /// entry, each new method rule.
    const NEWLY_DENIED: &[(&str, &str)] = &[
        ("_xxsubinterpreters", "run_string"),
        ("_interpreters", "run_string"),
        ("_interpreters", "exec"),
        ("_xxinterpchannels", "create"),
        ("_interpchannels", "create"),
        ("_xxinterpqueues", "create"),
        ("_interpqueues", "create"),
        ("concurrent.futures", "ThreadPoolExecutor"),
        ("concurrent.futures.thread", "ThreadPoolExecutor"),
        ("concurrent.interpreters", "create"),
        ("_testcapi", "run_in_subinterp"),
        ("_testinternalcapi", "run_in_subinterp_with_config"),
        ("_testlimitedcapi", "x"),
        ("_testmultiphase", "x"),
        ("_testsinglephase", "x"),
        ("_testimportmultiple", "x"),
        ("_testbuffer", "x"),
        ("_testclinic", "x"),
        ("_testclinic_limited", "x"),
        ("_testexternalinspection", "x"),
        ("_testconsole", "write_input"),
        ("_ctypes_test", "x"),
        ("_xxtestfuzz", "run"),
        ("xxsubtype", "spamlist"),
        ("xxlimited", "Xxo"),
        ("xxlimited_35", "Xxo"),
        ("test.support.script_helper", "run_python_until_end"),
        ("test.pythoninfo", "collect_info"),
        ("_bootsubprocess", "check_output"),
        ("pipes", "Template"),
        ("mailcap", "findmatch"),
        ("_imp", "create_dynamic"),
        ("_frozen_importlib", "_load"),
        ("_frozen_importlib_external", "SourceFileLoader"),
        ("pkg_resources", "EntryPoint"),
        ("_distutils_hack", "add_shim"),
        ("zipapp", "create_archive"),
        ("compileall", "compile_dir"),
        ("py_compile", "compile"),
        ("dataclasses", "_create_fn"),
        ("dataclasses", "make_dataclass"),
        ("dataclasses", "_FuncBuilder"),
        ("rlcompleter", "Completer.complete"),
        ("tkinter", "Tcl"),
        ("_tkinter", "create"),
        ("Tkinter", "Tk"),
        ("turtle", "readconfig"),
        ("turtledemo.__main__", "main"),
        ("antigravity", "geohash"),
        ("unittest", "main"),
        ("unittest.loader", "TestLoader.loadTestsFromName"),
        ("_lsprof", "Profiler"),
        ("_thread", "start_new_thread"),
        ("thread", "start_new_thread"),
        ("threading", "Thread"),
        ("_dummy_thread", "start_new_thread"),
        ("dummy_threading", "Thread"),
        ("sched", "scheduler"),
        ("faulthandler", "_sigsegv"),
        ("_posixshmem", "shm_unlink"),
        ("_multiprocessing", "SemLock"),
        ("mmap", "mmap"),
        ("resource", "setrlimit"),
        ("readline", "write_history_file"),
        ("getpass", "getpass"),
        ("copy", "_reconstruct"),
        ("copy", "deepcopy"),
        ("_sqlite3", "connect"),
        ("_dbm", "open"),
        ("_gdbm", "open"),
        ("_pyio", "open"),
        ("_signal", "signal"),
        ("_asyncio", "Task"),
        ("_overlapped", "Overlapped"),
        ("_msi", "OpenDatabase"),
        ("msilib", "init_database"),
        ("wsgiref.simple_server", "make_server"),
        ("mailbox", "mbox"),
        ("cgitb", "enable"),
        ("uuid", "_find_mac_near_keyword"),
        ("uuid", "_find_mac_under_heading"),
        ("uuid", "_ifconfig_getnode"),
        ("uuid", "_ip_getnode"),
        ("uuid", "_arp_getnode"),
        ("uuid", "_netstat_getnode"),
        ("uuid", "_lanscan_getnode"),
        ("uuid", "_unix_getnode"),
        ("uuid", "_load_system_functions"),
        ("uuid", "getnode"),
        ("uuid", "uuid1"),
        ("statsmodels.iolib.smpickle", "load_pickle"),
        ("statsmodels.tsa.x13", "x13_arima_analysis"),
        ("scipy.io", "loadmat"),
        ("scipy.weave", "inline"),
        ("typing", "_eval_type"),
        ("typing", "get_type_hints"),
        ("typing", "ForwardRef"),
        ("typing", "ForwardRef._evaluate"),
        ("typing", "evaluate_forward_ref"),
        ("gettext", "c2py"),
        ("optparse", "Values.read_file"),
        ("optparse", "Values.read_module"),
        ("warnings", "_getcategory"),
        ("warnings", "_setoption"),
        ("warnings", "_processoptions"),
        ("xml.sax", "make_parser"),
        ("xml.sax", "_create_parser"),
        ("xml.dom.domreg", "getDOMImplementation"),
        ("xml.dom", "getDOMImplementation"),
        ("xml.dom.domreg", "registerDOMImplementation"),
        ("xml.dom", "registerDOMImplementation"),
        ("tracemalloc", "Snapshot.load"),
        ("operator", "call"),
        ("_operator", "call"),
        ("builtins", "map"),
        ("__builtin__", "filter"),
        ("builtins", "iter"),
        ("itertools", "starmap"),
        ("types", "new_class"),
        ("types", "prepare_class"),
        ("types", "MethodType"),
        ("types", "CellType"),
        ("weakref", "finalize"),
        ("codecs", "register"),
        ("_codecs", "register"),
        ("codecs", "register_error"),
        ("_codecs", "register_error"),
        ("logging", "setLogRecordFactory"),
        ("logging", "setLoggerClass"),
        ("gzip", "open"),
        ("gzip", "GzipFile"),
        ("bz2", "open"),
        ("bz2", "BZ2File"),
        ("lzma", "open"),
        ("lzma", "LZMAFile"),
        ("scipy", "LowLevelCallable"),
        ("scipy._lib._ccallback", "LowLevelCallable"),
        ("pathlib", "Path.write_text"),
        ("pathlib", "PosixPath.write_bytes"),
        ("pathlib._local", "Path.touch"),
        ("pathlib", "Path.mkdir"),
        ("pathlib", "Path.unlink"),
        ("pathlib", "Path.rmdir"),
        ("pathlib", "Path.rename"),
        ("pathlib", "Path.replace"),
        ("pathlib", "Path.symlink_to"),
        ("pathlib", "Path.hardlink_to"),
        ("pathlib", "Path.link_to"),
        ("pathlib", "Path.chmod"),
        ("pathlib", "Path.lchmod"),
        ("pathlib", "WindowsPath.open"),
        ("pathlib", "Path.copy"),
        ("pathlib", "Path.move"),
        ("statsmodels.base.model", "LikelihoodModelResults.load"),
        ("statsmodels.base.wrapper", "ResultsWrapper.save"),
        ("pandas.core.frame", "DataFrame.to_pickle"),
        ("pandas.core.series", "Series.eval"),
        ("pandas.core.frame", "DataFrame.query"),
        ("xgboost.core", "Booster.load_model"),
        ("xgboost.sklearn", "XGBModel.save_model"),
        ("lightgbm.basic", "Booster.model_from_string"),
        ("lightgbm.basic", "Booster.save_model"),
        ("catboost.core", "CatBoost.load_model"),
        ("catboost.core", "CatBoost.save_model"),
    ];

    #[test]
    fn hardening_02_every_newly_denied_callable_is_dangerous() {
        // Configuration allowing the whole module changes nothing.
        for (module, name) in NEWLY_DENIED {
            let policy = Policy {
                extra_allowed: vec![format!("{module}.*"), format!("{module}.{name}")],
            };
            let c = policy.check(module, name);
            assert_eq!(c.verdict, Verdict::Dangerous, "{module}.{name}: {c:?}");
            assert!(!c.reason.is_empty());
        }
        assert!(NEWLY_DENIED.len() > 150, "{}", NEWLY_DENIED.len());
    }

    #[test]
    fn hardening_02_allowed_classes_keep_their_allowed_neighbours() {
        // Whole-module denials keep the exact allowlist entries inside them (uuid.UUID) and the
        // method rules leave the classes themselves alone.
        for (module, name) in [
            ("uuid", "UUID"),
            ("uuid", "SafeUUID"),
            ("pathlib", "PosixPath"),
            ("pathlib._local", "PosixPath"),
            ("xgboost.core", "Booster"),
            (
                "statsmodels.regression.linear_model",
                "RegressionResultsWrapper",
            ),
            ("pandas.core.frame", "DataFrame"),
            ("scipy.stats._continuous_distns", "norm_gen"),
            ("scipy.interpolate._bsplines", "BSpline"),
        ] {
            assert_eq!(
                Policy::default().classify(module, name),
                Verdict::Allowed,
                "{module}.{name}"
            );
        }
        for (module, name) in [
            // Classes only: functions and I/O classes of the same libraries are not allowed.
            ("pandas", "ExcelWriter"),
            ("pandas", "HDFStore"),
            ("pandas._libs.parsers", "TextReader"),
            ("statsmodels.formula.api", "ols"),
            ("statsmodels.graphics.gofplots", "ProbPlot"),
            ("scipy.stats._continuous_distns", "norm_gen.fit"),
            ("xgboost", "train"),
            ("test_helpers", "thing"),
        ] {
            assert_ne!(
                Policy::default().classify(module, name),
                Verdict::Allowed,
                "{module}.{name}"
            );
        }
    }

    #[test]
    fn loaders_are_dangerous_and_marked() {
        for (module, name) in [
            ("pickle", "loads"),
            ("_pickle", "loads"),
            ("cPickle", "loads"),
            ("torch", "load"),
            ("numpy", "load"),
            ("joblib", "load"),
            ("marshal", "loads"),
            ("dill", "loads"),
            ("torch.storage", "_load_from_bytes"),
        ] {
            let c = Policy::default().check(module, name);
            assert_eq!(c.verdict, Verdict::Dangerous, "{module}.{name}");
            assert!(c.loader, "{module}.{name} is a loader");
        }
        assert!(!Policy::default().check("os", "system").loader);
    }

    #[test]
    fn extra_allowed_entries() {
        let policy = Policy {
            extra_allowed: vec![
                "__main__.MyModel".into(),
                "xgboost.sklearn.*".into(),
                "os.*".into(),
                "builtins.eval".into(),
            ],
        };
        assert_eq!(policy.classify("__main__", "MyModel"), Verdict::Allowed);
        assert_eq!(policy.classify("__main__", "MyModelX"), Verdict::Unknown);
        assert_eq!(policy.classify("__main__", "Other"), Verdict::Unknown);
        assert_eq!(
            policy.classify("xgboost.sklearn", "XGBClassifier"),
            Verdict::Allowed
        );
        // `module.*` is that module only, not its parents or children.
        assert_eq!(policy.classify("xgboost", "Booster"), Verdict::Unknown);
        assert_eq!(
            policy.classify("xgboost.sklearn.sub", "X"),
            Verdict::Unknown
        );
        // Configuration cannot allow what is known to run code.
        assert_eq!(policy.classify("os", "system"), Verdict::Dangerous);
        assert_eq!(policy.classify("builtins", "eval"), Verdict::Dangerous);
    }

    #[test]
    fn normalization() {
        assert_eq!(
            normalize("numpy._core.multiarray", "_reconstruct"),
            (
                Cow::Owned("numpy.core.multiarray".into()),
                Cow::Borrowed("_reconstruct")
            )
        );
        assert_eq!(
            normalize("__builtin__", "reduce"),
            (Cow::Borrowed("functools"), Cow::Borrowed("reduce"))
        );
        assert_eq!(
            normalize("numpy._core_x", "a"),
            (Cow::Borrowed("numpy._core_x"), Cow::Borrowed("a"))
        );
    }
}
