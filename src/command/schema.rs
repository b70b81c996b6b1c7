//! `kiln schema`: the JSON Schema of `kiln.yaml`, or of a template set's values.

use std::path::Path;

use crate::cli::SchemaArgs;
use crate::command::Output;
use crate::config::{Project, project_schema};
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::error::Error;
use crate::render::Templates;
use crate::source::Sources;
use crate::values::schema::FILE;

/// Run `kiln schema`.
pub fn run(dir: &Path, args: &SchemaArgs) -> Result<Output, Error> {
    let Some(set) = &args.set else {
        let text = serde_json::to_string_pretty(&project_schema())
            .map_err(|e| Error::run(e.to_string()))?;
        return Ok(Output {
            stdout: text + "\n",
            code: 0,
            stderr: String::new(),
        });
    };
    // Inside a project its own templates override the built-in ones; elsewhere the built-ins.
    let mut sources = Sources::default();
    let templates = match Project::discover(dir, &mut sources) {
        Ok(p) => Templates::load(Some(&p.templates_dir), &p.relative(&p.templates_dir))?,
        Err(_) => Templates::load(None, "templates")?,
    };
    // `kiln schema SET > templates/SET/values.schema.json`: the shell empties that file before
    // kiln reads it, so an empty project schema means "print the built-in one".
    let builtin;
    let file = match templates.set_data(set, FILE) {
        Some(f) if f.source.trim().is_empty() => {
            builtin = Templates::load(None, "templates")?;
            builtin.set_data(set, FILE)
        }
        other => other,
    };
    match file {
        Some(file) => Ok(Output {
            stdout: file.source.to_string(),
            code: 0,
            stderr: String::new(),
        }),
        None => {
            let sets = templates.sets();
            let mut d = Diagnostic::error(if sets.contains(&set.as_str()) {
                format!("template set `{set}` has no `{FILE}`")
            } else {
                format!("unknown template set `{set}`")
            });
            if let Some(s) = did_you_mean(set, sets.iter().copied()) {
                d = d.help(format!("did you mean `{s}`?"));
            } else {
                d = d.help(format!("template sets: {}", sets.join(", ")));
            }
            Err(Error::Run(d))
        }
    }
}
