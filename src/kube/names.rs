//! Kubernetes' name rules, the one place they are written: DNS-1123 labels and subdomains,
//! label keys and values, URL path segments. Used to validate kiln's own names (environments,
//! clusters, services, variants, template sets: they become folder and file names) and by the
//! checks of rendered objects.

fn is_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// DNS-1123 label: at most 63 of `[a-z0-9-]`, starting and ending alphanumeric.
pub fn dns_label(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("is empty");
    }
    if s.len() > 63 {
        return Err("is longer than 63 characters");
    }
    if !s.chars().all(|c| is_alnum(c) || c == '-') {
        return Err("has characters other than lowercase letters, digits and `-`");
    }
    if !s.starts_with(is_alnum) || !s.ends_with(is_alnum) {
        return Err("must start and end with a lowercase letter or digit");
    }
    Ok(())
}

/// A name that only has to be a URL path segment (RBAC objects).
pub fn path_segment(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("is empty");
    }
    if s == "." || s == ".." {
        return Err("may not be `.` or `..`");
    }
    if s.contains(['/', '%']) {
        return Err("may not contain `/` or `%`");
    }
    Ok(())
}

/// DNS-1123 subdomain: at most 253, dot-separated labels.
pub fn dns_subdomain(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("is empty");
    }
    if s.len() > 253 {
        return Err("is longer than 253 characters");
    }
    if !s.chars().all(|c| is_alnum(c) || c == '-' || c == '.') {
        return Err("has characters other than lowercase letters, digits, `-` and `.`");
    }
    if !s.starts_with(is_alnum) || !s.ends_with(is_alnum) {
        return Err("must start and end with a lowercase letter or digit");
    }
    Ok(())
}

/// A label/annotation key: optional DNS subdomain prefix and `/`, then a name of at most 63
/// characters of `[A-Za-z0-9-_.]`, starting and ending alphanumeric.
pub fn qualified_name(key: &str) -> Result<(), &'static str> {
    let name = match key.rsplit_once('/') {
        Some((prefix, name)) => {
            if dns_subdomain(prefix).is_err() {
                return Err(
                    "has an invalid prefix (it must be a DNS subdomain such as `example.com`)",
                );
            }
            name
        }
        None => key,
    };
    if name.is_empty() {
        return Err("has an empty name");
    }
    if name.len() > 63 {
        return Err("has a name longer than 63 characters");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(
            "may only hold letters, digits, `-`, `_` and `.` (after an optional `prefix/`)",
        );
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !name.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Err("must start and end with a letter or digit");
    }
    Ok(())
}

/// A label value: empty, or at most 63 of `[A-Za-z0-9-_.]`, starting and ending alphanumeric.
pub fn label_value(v: &str) -> Result<(), &'static str> {
    if v.is_empty() {
        return Ok(());
    }
    if v.len() > 63 {
        return Err("is longer than 63 characters");
    }
    if !v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err("may only hold letters, digits, `-`, `_` and `.`");
    }
    if !v.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !v.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Err("must start and end with a letter or digit");
    }
    Ok(())
}

/// An apiVersion: `apps/v1`, `v1`, `example.com/v1beta2`; the error says what is wrong.
///
/// # Errors
/// What is malformed, as a phrase that follows "apiVersion `x`".
pub fn api_version(v: &str) -> Result<(), &'static str> {
    let version = match v.split_once('/') {
        Some((group, version)) => {
            if group.is_empty() || dns_subdomain(group).is_err() {
                return Err("has an invalid group (expected `group/version`, e.g. `apps/v1`)");
            }
            version
        }
        None => v,
    };
    let rest = version
        .strip_prefix('v')
        .ok_or("has no version (expected `v1`, `v1beta1`, `group/v1`)")?;
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if digits_end == 0 {
        return Err("has no version number");
    }
    let tail = &rest[digits_end..];
    let ok = tail.is_empty()
        || ["alpha", "beta"].iter().any(|p| {
            tail.strip_prefix(p)
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        });
    if ok {
        Ok(())
    } else {
        Err("is not a Kubernetes API version (`v1`, `v1beta1`, `v2alpha1`)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(dns_label("order-service").is_ok());
        assert!(dns_label("Order").is_err());
        assert!(dns_label(&"a".repeat(64)).is_err());
        assert!(dns_subdomain("a.b-c").is_ok());
        assert!(dns_subdomain("-a").is_err());
        assert!(qualified_name("app.kubernetes.io/name").is_ok());
        assert!(qualified_name("bad key").is_err());
        assert!(qualified_name("Example.com/x").is_err());
        assert!(label_value("").is_ok());
        assert!(label_value("a b").is_err());
    }

    #[test]
    fn api_versions() {
        for ok in ["v1", "apps/v1", "example.com/v1beta2", "batch/v2alpha1"] {
            assert!(api_version(ok).is_ok(), "{ok}");
        }
        for bad in [
            "apps", "/v1", "apps/", "apps/1", "v1beta", "Apps/v1", "v1gamma1",
        ] {
            assert!(api_version(bad).is_err(), "{bad}");
        }
    }
}
