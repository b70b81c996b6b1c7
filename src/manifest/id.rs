//! `ResourceId`: what makes a Kubernetes object itself (group, version, kind, namespace, name).

use std::fmt;

use crate::yaml::Node;

/// The identity of a Kubernetes object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId {
    /// `apps/v1`, `v1`.
    pub api_version: String,
    /// `Deployment`.
    pub kind: String,
    /// Namespace, when set.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
}

impl ResourceId {
    /// Read the identity of a document; `Err` says which field is missing or of the wrong type.
    pub fn of(doc: &Node) -> Result<ResourceId, &'static str> {
        if !matches!(doc.value, crate::yaml::Value::Map(_)) {
            return Err("a Kubernetes object must be a mapping");
        }
        let api_version = doc
            .get_str("apiVersion")
            .ok_or("missing `apiVersion` (a string such as `apps/v1`)")?;
        let kind = doc
            .get_str("kind")
            .ok_or("missing `kind` (a string such as `Deployment`)")?;
        let meta = doc.get("metadata").ok_or("missing `metadata`")?;
        let name = meta
            .get_str("name")
            .ok_or("missing `metadata.name` (a string)")?;
        Ok(ResourceId {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            namespace: meta.get_str("namespace").map(str::to_string),
            name: name.to_string(),
        })
    }

    /// The API group (`""` for the core group).
    #[must_use]
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }
}

impl fmt::Display for ResourceId {
    /// `apps/v1 Deployment prod/order-service`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {} {}/{}", self.api_version, self.kind, ns, self.name),
            None => write!(f, "{} {} {}", self.api_version, self.kind, self.name),
        }
    }
}
