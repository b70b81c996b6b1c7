//! `kiln check`: render the project in memory and check every manifest against its
//! environment's Kubernetes version. Writes nothing.

use std::path::Path;
use std::sync::Arc;

use crate::check::{self, Checked};
use crate::cli::CheckArgs;
use crate::command::{
    Output, Pipeline, RenderedText, baseline, catalog, exit_code, file_text, upgrade_to,
};
use crate::error::Error;
use crate::manifest::Manifest;
use crate::render::FileResult;
use crate::report;

/// Run `kiln check`.
pub fn run(dir: &Path, args: &CheckArgs) -> Result<Output, Error> {
    let mut pipeline = Pipeline::load(dir, &args.values)?;
    pipeline.batch = crate::command::CHECK_BATCH;
    let catalog = catalog(&args.check, Some(&pipeline.project))?;
    let envs = pipeline.select_targets(&args.only.env, &args.only.cluster)?;
    let instances = pipeline.instances(&envs, &args.only.service)?;
    let out_name = pipeline.project.relative(&pipeline.project.out_dir);
    let options = check::Options {
        skip_missing_schemas: args.check.skip_missing_schemas,
        upgrade_to: upgrade_to(&args.check)?,
        lint: pipeline.project.lint.clone(),
        host_network: pipeline.host_network_objects(&envs)?,
    };
    let templates = &pipeline.templates;
    let golden = &pipeline.project.golden_dir;
    // (`Pipeline::load` has brought it back if a killed `kiln golden update` left it aside.)
    // An empty golden/ (as `kiln init` makes it) means "nothing recorded yet". A missing one
    // where `kiln.yaml` names a golden path is a finding below, never a quietly skipped drift
    // check; a project that never mentions golden files is not made to keep them.
    let missing = !golden.is_dir() && pipeline.project.golden_configured;
    let recorded = walkdir::WalkDir::new(golden)
        .into_iter()
        .filter_map(Result::ok)
        .any(|e| e.path().extension().is_some_and(|x| x == "yaml"));
    // Each file is checked on the render's worker thread, from the render's own trees (no second
    // parse; a document with findings is re-read from the text to place them). Only files that
    // differ from golden/ are kept, so memory stays near a render's.
    let files = pipeline.render(
        &envs,
        &instances,
        args.only.service.is_empty(),
        &|ms: &[Manifest]| {
            let mut written_at = Vec::new();
            let (text, places) = file_text(ms, Some(&mut written_at))?;
            let (path, version) = match ms.first() {
                Some(m) => {
                    let env = pipeline
                        .project
                        .environments
                        .iter()
                        .find(|e| e.folder == m.origin.env);
                    (Some(m.out_file()), env.map(|e| e.kube_version))
                }
                None => (None, None),
            };
            let mut results = Vec::with_capacity(ms.len());
            if let (Some(path), Some(version)) = (&path, version) {
                let file: Arc<str> = Arc::from(format!("{out_name}/{path}"));
                let shared: Arc<str> = Arc::from(text.as_str());
                for ((m, &(offset, line_base, end)), emitted) in
                    ms.iter().zip(&places).zip(written_at)
                {
                    let doc = check::Document {
                        file: Arc::clone(&file),
                        text: Arc::clone(&shared),
                        offset,
                        line_base,
                        end,
                        parsed: Ok(std::borrow::Cow::Borrowed(&m.doc)),
                        template: Some(Arc::from(m.origin.template_shown.as_str())),
                        template_source: templates
                            .get(&m.origin.template)
                            .ok()
                            .map(|t| Arc::clone(&t.source)),
                        has_locations: false,
                        emitted: Some(emitted),
                        list_index: None,
                    };
                    results.push(check::check_document(&doc, version, &catalog, &options));
                }
            }
            // Kept only when it drifts from recorded golden files, which hold the golden form.
            if !recorded {
                return Ok((results, None));
            }
            let kept = baseline::differing(&pipeline, (golden, true), ms, Some((text, places)))?;
            Ok((results, kept))
        },
    )?;
    // Sized once: 12,000 results grown by doubling touch twice their size in new pages.
    let mut results: Vec<Checked> =
        Vec::with_capacity(files.iter().map(|f| f.payload.0.len()).sum());
    let files: Vec<FileResult<Option<RenderedText>>> = files
        .into_iter()
        .map(|f| {
            let (r, kept) = f.payload;
            results.extend(r);
            FileResult {
                path: f.path,
                env: f.env,
                ids: f.ids,
                payload: kept,
            }
        })
        .collect();
    // Each environment's ApplySet parent too, when whole environments were rendered. Without
    // recorded golden files there is nothing to compare.
    let (changed, unchanged) = if recorded {
        baseline::split(&pipeline, golden, files, args.only.service.is_empty())?
    } else {
        super::free_at_exit(files);
        (Vec::new(), Vec::new())
    };
    let mut results = per_template(results, templates);
    if missing {
        let shown = pipeline.project.relative(golden);
        results.push(Checked::file_level(
            &check::rule::GOLDEN_DRIFT,
            &shown,
            format!(
                "`{shown}` is missing, so drift from the recorded output cannot be checked; run `kiln golden update` to record it (an empty `{shown}` folder means nothing recorded yet)"
            ),
        ));
    }
    // When the project keeps golden files, drift from them fails the check (and is shown).
    let mut drift_text = String::new();
    if recorded {
        let names: Vec<String> = instances.iter().map(|i| i.name.clone()).collect();
        let (old, new) = crate::command::diff::against_dir(
            &changed,
            &unchanged,
            &pipeline.project.environments,
            golden,
            &pipeline.project.relative(golden),
            &|folder: &str| {
                pipeline
                    .project
                    .folder_selected(folder, &args.only.env, &args.only.cluster)
            },
            &args.only.service,
            &names,
            true,
        )?;
        let diffs = crate::diff::compare(old, new, false);
        for d in diffs.iter().filter(|d| !d.is_empty()) {
            let golden_env = format!("{}/{}", pipeline.project.relative(golden), d.env);
            // Golden files keep digests of Secret values: a changed one is named by its Secret
            // and key, in every report format, never shown.
            let secret_keys: Vec<String> = d
                .changed
                .iter()
                .filter(|c| c.resource.starts_with("v1 Secret "))
                .flat_map(|c| {
                    c.fields
                        .iter()
                        .filter(|f| {
                            f.path.starts_with("data.") || f.path.starts_with("stringData.")
                        })
                        .map(move |f| {
                            format!("`{}` `{}`", c.resource.trim_start_matches("v1 "), f.path)
                        })
                })
                .collect();
            let secrets = if secret_keys.is_empty() {
                String::new()
            } else {
                format!(" (Secret values changed: {})", secret_keys.join(", "))
            };
            let message = format!(
                "the render of `{}` drifts from {golden_env}: {} changed, {} added, {} removed{secrets}; review with `kiln diff`, then `kiln golden update` if intended",
                d.env,
                d.changed.len(),
                d.added.len(),
                d.removed.len()
            );
            results.push(Checked::file_level(
                &check::rule::GOLDEN_DRIFT,
                &golden_env,
                message,
            ));
        }
        if args.check.format == report::Format::Text {
            drift_text = crate::diff::render::text(
                &diffs
                    .into_iter()
                    .filter(|d| !d.is_empty())
                    .collect::<Vec<_>>(),
                false,
            );
        }
    }
    let mut text = report::render(&results, args.check.format);
    if !drift_text.is_empty() && drift_text.trim() != "no differences" {
        text = format!("{drift_text}{text}");
    }
    let code = exit_code(&results, args.check.fail_on);
    super::free_at_exit((pipeline, instances, results, catalog, changed, unchanged));
    Ok(Output {
        stdout: text,
        code,
        stderr: String::new(),
    })
}

/// Upgrade findings (removed or deprecated APIs) come from templates, not from each rendered
/// copy: report each once, at the template's `apiVersion` line, naming every environment and
/// instance it affects.
fn per_template(mut results: Vec<Checked>, templates: &crate::render::Templates) -> Vec<Checked> {
    use std::collections::BTreeMap;
    let mut groups: BTreeMap<(String, &'static str, String), (check::Finding, Vec<String>)> =
        BTreeMap::new();
    let upgrade = |f: &check::Finding| {
        (f.rule == check::rule::REMOVED_API.id || f.rule == check::rule::DEPRECATED_API.id)
            && f.template.is_some()
    };
    // Most results have no upgrade finding: those are left as they are (a fleet's check keeps
    // thousands of them).
    for r in results
        .iter_mut()
        .filter(|r| r.findings.iter().any(upgrade))
    {
        let (found, rest): (Vec<_>, Vec<_>) = r.findings.drain(..).partition(upgrade);
        r.findings = rest;
        for f in found {
            let api = f.api.clone().unwrap_or_default();
            let affected = f
                .file
                .trim_end_matches(".yaml")
                .rsplit('/')
                .take(2)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("/");
            let key = (f.template.clone().unwrap_or_default(), f.rule, api);
            groups
                .entry(key)
                .or_insert_with(|| (f.clone(), Vec::new()))
                .1
                .push(affected);
        }
    }
    for ((template, _, api), (mut f, affected)) in groups {
        // Point at the template line that writes the apiVersion.
        let name = template
            .trim_start_matches("built-in ")
            .trim_start_matches("templates/");
        let source = templates
            .iter()
            .find(|(_, t)| t.shown_as == template)
            .map(|(_, t)| t.source.clone())
            .or_else(|| templates.get(name).ok().map(|t| t.source.clone()));
        let version = api.split(' ').next().unwrap_or_default();
        f.line = source
            .as_ref()
            .and_then(|s| {
                s.lines()
                    .position(|l| l.trim_start().starts_with("apiVersion:") && l.contains(version))
            })
            .map(|i| u32::try_from(i + 1).unwrap_or(0));
        f.column = f.line.map(|_| 1);
        f.file.clone_from(&template);
        f.resource = None;
        f.message = format!(
            "{} (affects {}: {})",
            f.message,
            affected.len(),
            affected.join(", ")
        );
        results.push(Checked {
            resource: template.clone(),
            file: template,
            findings: vec![f],
            skipped: false,
            line: 0,
            identified: false,
        });
    }
    results
}
