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

    /// The identity [`ResourceId::of`] reads, as it is shown (`apps/v1 Deployment
    /// prod/order-service`), written at once without copying its four parts first: every object
    /// `kiln check` checks is named so.
    #[must_use]
    pub fn shown(doc: &Node) -> Option<String> {
        let meta = doc.get("metadata")?;
        let (api_version, kind, name) = (
            doc.get_str("apiVersion")?,
            doc.get_str("kind")?,
            meta.get_str("name")?,
        );
        let namespace = meta.get_str("namespace");
        let mut out = String::with_capacity(
            api_version.len() + kind.len() + name.len() + namespace.map_or(0, str::len) + 3,
        );
        let _ = write_id(&mut out, api_version, kind, namespace, name);
        Some(out)
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
        write_id(
            f,
            &self.api_version,
            &self.kind,
            self.namespace.as_deref(),
            &self.name,
        )
    }
}

/// `apps/v1 Deployment prod/order-service`, or `v1 Namespace prod` without a namespace.
fn write_id(
    out: &mut impl fmt::Write,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
) -> fmt::Result {
    for part in [api_version, " ", kind, " "] {
        out.write_str(part)?;
    }
    if let Some(ns) = namespace {
        out.write_str(ns)?;
        out.write_char('/')?;
    }
    out.write_str(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Dialect, parse_unlocated};

    /// `shown` names exactly the objects `of` reads, as their `Display` does.
    #[test]
    fn shown_is_the_identity_as_displayed() {
        for doc in [
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: prod}\n",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: prod}\n",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: prod}\n",
            "apiVersion: v1\nmetadata: {name: x}\n",
            "kind: Pod\nmetadata: {name: x}\n",
            "apiVersion: v1\nkind: Pod\n",
            "apiVersion: 1\nkind: Pod\nmetadata: {name: x}\n",
            "- a\n- b\n",
            "订单: 服务\n",
        ] {
            let node = parse_unlocated(doc, Dialect::Kube).unwrap();
            assert_eq!(
                ResourceId::shown(&node),
                ResourceId::of(&node).ok().map(|id| id.to_string()),
                "{doc}"
            );
        }
    }
}
