//! Manifests: rendered documents with their identity and where they came from.
//!
//! A [`Manifest`] is one Kubernetes object kiln produced (or read, for `lint`): its parsed tree,
//! its [`ResourceId`], and its [`Origin`]. This module also owns the fixed output order and the
//! normalised YAML text kiln writes; it validates nothing beyond what identity needs.

pub mod claims;
pub mod golden;
pub mod id;
pub mod order;
pub mod patch;

use std::fmt::Write as _;

use std::path::PathBuf;
use std::sync::Arc;

pub use id::ResourceId;

use crate::yaml::Node;

/// Where a manifest came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Template name (`spring-boot/deployment.yaml.j2`).
    pub template: String,
    /// How the template is shown: `templates/...` or `built-in ...`.
    pub template_shown: String,
    /// The environment's output folder: its name, or `<env>@<cluster>` for an environment on
    /// several clusters.
    pub env: String,
    /// Instance name, or `_env` for environment-level resources.
    pub instance: String,
}

/// One object.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Its identity.
    pub id: ResourceId,
    /// The parsed document.
    pub doc: Node,
    /// Where it came from.
    pub origin: Arc<Origin>,
}

impl Manifest {
    /// The file (relative to the output folder) this manifest is written to.
    #[must_use]
    pub fn out_file(&self) -> String {
        format!("{}/{}.yaml", self.origin.env, self.origin.instance)
    }
}

/// The manifest files under `dir` (`.yaml`, `.yml`, `.json`), symlinks followed, in file-name
/// order, with every entry that cannot be read as an error (a symlink loop among them).
pub fn files_in(dir: &std::path::Path) -> impl Iterator<Item = Result<PathBuf, walkdir::Error>> {
    walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|entry| match entry {
            Ok(e) if e.file_type().is_file() => {
                let ext = e.path().extension().and_then(|x| x.to_str());
                matches!(ext, Some("yaml" | "yml" | "json")).then(|| Ok(e.into_path()))
            }
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
}

/// Normalised YAML of a list of manifests, each preceded by a `# Source:` line and separated
/// by `---`. `with_instance` adds the environment and instance to the source line (for the
/// single `--stdout` stream, where files no longer say it). Also returns where each document
/// is in the text: (byte offset of its first line, lines before it, byte offset past it).
pub fn to_yaml(
    manifests: &[Manifest],
    with_instance: bool,
) -> Result<(String, Vec<(usize, u32, usize)>), String> {
    to_yaml_placed(manifests, with_instance, None)
}

/// [`to_yaml`], and with `written_at` also where the emitter wrote each document's nodes: per
/// document, the byte offset of its YAML after its `# Source:` line (within the document) and
/// the emitter's places ([`crate::yaml::placed`]), for `kiln check` to place its findings.
pub fn to_yaml_placed(
    manifests: &[Manifest],
    with_instance: bool,
    mut written_at: Option<&mut Vec<(usize, crate::yaml::placed::Placed)>>,
) -> Result<(String, Vec<(usize, u32, usize)>), String> {
    let mut out = String::new();
    let mut places = Vec::with_capacity(manifests.len());
    let mut lines = 0u32;
    for (i, m) in manifests.iter().enumerate() {
        let start = out.len();
        if i > 0 || with_instance {
            out.push_str("---\n");
        }
        out.push_str("# Source: ");
        out.push_str(&m.origin.template);
        if with_instance {
            let _ = write!(out, " ({}/{})", m.origin.env, m.origin.instance);
        }
        out.push('\n');
        match written_at.as_deref_mut() {
            Some(written_at) => {
                let (yaml, at) = crate::yaml::placed::emit_placed(&m.doc)?;
                written_at.push((out.len() - start, at));
                out.push_str(&yaml);
            }
            None => out.push_str(&crate::yaml::emit(&m.doc)?),
        }
        places.push((start, lines, out.len()));
        lines += u32::try_from(crate::source::line_feeds(&out[start..])).unwrap_or(0);
    }
    Ok((out, places))
}
