//! Kubernetes `major.minor` versions.

/// A Kubernetes `major.minor` version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeVersion {
    /// Major (always 1 today).
    pub major: u32,
    /// Minor.
    pub minor: u32,
}

impl KubeVersion {
    /// Parse `1.35` (a leading `v` and a patch part are accepted and ignored).
    #[must_use]
    pub fn parse(text: &str) -> Option<KubeVersion> {
        let t = text.trim().trim_start_matches('v');
        let mut parts = t.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        if parts.next().is_some_and(|p| p.parse::<u32>().is_err()) {
            return None;
        }
        Some(KubeVersion { major, minor })
    }
}

impl std::fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}
