//! `kiln values`: the merged values of one instance, optionally with where each leaf was set.

use std::path::Path;

use serde::Serialize;
use serde_saphyr::Commented;

use crate::cli::ValuesArgs;
use crate::command::{Output, Pipeline};
use crate::error::Error;
use crate::source::Sources;
use crate::yaml::{self, Node, Value};

/// Run `kiln values`.
pub fn run(dir: &Path, args: &ValuesArgs) -> Result<Output, Error> {
    let pipeline = Pipeline::load(dir, &args.values)?;
    // An environment on several clusters has values per cluster (`values/clusters/<c>.yaml`).
    let envs = [pipeline.one_target(
        &args.env,
        args.cluster.as_deref(),
        &format!(
            "pick one: `kiln values {} --env {} --cluster {{}}`",
            args.service, args.env
        ),
    )?];
    let instances = pipeline.instances(&envs, std::slice::from_ref(&args.service))?;
    let Some(inst) = instances
        .iter()
        .find(|i| i.name == args.service)
        .or_else(|| instances.first())
    else {
        return Err(Error::run(format!(
            "service `{}` is not rendered in environment `{}` (`enabled: false`, or a variant not listed for it)",
            args.service, args.env
        )));
    };
    let mut values = inst.values.clone();
    // The patches of every layer, shown (with `--origin`, each at its file and line) though
    // they are not values the templates see.
    if !inst.patches.is_empty()
        && let Value::Map(m) = &mut values.value
    {
        let at = inst.patches[0].loc;
        m.insert(
            "patches".to_string(),
            Node::new(Value::Seq(inst.patches.clone()), at),
        );
    }
    if !args.show_secrets {
        crate::secret::redact(&mut values);
        // Every value decrypted from a SOPS file, whatever its type or length.
        crate::secret::redact_located(&mut values, &|loc| {
            crate::values::sops::is_decrypted(&pipeline.sources, loc)
        });
        // Values that end up in a Secret are secret whatever their key is called: render the
        // instance and hide them too (a render error is reported by `render`, not here).
        let held: std::collections::HashSet<String> = pipeline
            .render(&envs, std::slice::from_ref(inst), false, &|ms| {
                Ok(ms
                    .iter()
                    .flat_map(|m| crate::secret::held_by_secret(&m.doc))
                    .collect::<Vec<_>>())
            })
            .map(|files| files.into_iter().flat_map(|f| f.payload).collect())
            .unwrap_or_default();
        crate::secret::redact_matching(&mut values, &held);
    }
    let text = if args.origin {
        yaml::emit(&WithOrigin {
            node: &values,
            sources: &pipeline.sources,
        })
    } else {
        yaml::emit(&values)
    }
    .map_err(|e| Error::run(format!("cannot write YAML: {e}")))?;
    Ok(Output {
        stdout: text,
        code: 0,
        stderr: String::new(),
    })
}

/// Serializes a node with each scalar followed by `# file:line:col` of where it was set.
struct WithOrigin<'a> {
    node: &'a Node,
    sources: &'a Sources,
}

impl Serialize for WithOrigin<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match &self.node.value {
            Value::Map(m) if !m.is_empty() => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(
                        k,
                        &WithOrigin {
                            node: v,
                            sources: self.sources,
                        },
                    )?;
                }
                map.end()
            }
            Value::Seq(items) if !items.is_empty() => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(&WithOrigin {
                        node: v,
                        sources: self.sources,
                    })?;
                }
                seq.end()
            }
            _ => Commented(&self.node.value, self.sources.describe(self.node.loc)).serialize(s),
        }
    }
}
