//! Package naming rules shared by the inventory and the vulnerability matcher.

/// PEP 503 normalised Python package name: lowercase, runs of `-`, `_`, `.` become one `-`.
pub fn normalize_pypi_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut last_sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !last_sep {
                out.push('-');
            }
            last_sep = true;
        } else {
            out.push(c.to_ascii_lowercase());
            last_sep = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_pep_503() {
        assert_eq!(normalize_pypi_name("Scikit_Learn"), "scikit-learn");
        assert_eq!(normalize_pypi_name("zope..interface"), "zope-interface");
        assert_eq!(normalize_pypi_name("Jinja2"), "jinja2");
    }
}
