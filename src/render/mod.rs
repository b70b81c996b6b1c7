//! Rendering: template sets to parsed manifests, in parallel, deterministically.
//!
//! Builds the one minijinja environment (strict undefined, YAML-safe escaping, fuel limit,
//! templates only from the project folder and the built-in library), renders every instance's
//! set and every environment's `_env` templates, and parses each output as YAML. A problem
//! becomes a [`Diagnostic`] naming the template, line and instance. Writes nothing.

pub mod budget;
pub mod escape;
pub mod filters;
pub mod platform;
pub mod templates;

use std::collections::HashMap;
use std::sync::Arc;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{
    Environment, Error as JError, ErrorKind, UndefinedBehavior, Value as JValue, context,
};
use rayon::prelude::*;

use crate::config::Environment as KEnv;
use crate::diagnostic::{Diagnostic, Excerpt, did_you_mean};
use crate::error::Error;
use crate::manifest::claims::Ports;
use crate::manifest::{Manifest, Origin, ResourceId};
use crate::source::Sources;
use crate::values::{Instance, dedup};
use crate::yaml::{self, Dialect, Node};

pub use templates::Templates;

/// How much work one template render may do before it is stopped (a runaway loop). Generous:
/// the largest built-in template uses well under 1% of it.
const FUEL: u64 = 5_000_000;

/// Nesting depth of includes and macro calls.
const RECURSION_LIMIT: usize = 100;

/// Build the template environment over `templates`.
#[must_use]
pub fn environment(templates: &Arc<Templates>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(escape::auto_escape_for);
    env.set_formatter(escape::yaml_formatter);
    env.set_fuel(Some(FUEL));
    // Deep enough for any real macro use; with the larger worker stacks set in `lib::run` an
    // endless recursion ends with this limit's error, not a stack overflow.
    env.set_recursion_limit(RECURSION_LIMIT);
    if let Ok(syntax) = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    let t = Arc::clone(templates);
    env.set_loader(move |name| match t.get(name) {
        Ok(file) => Ok(Some(file.source.to_string())),
        // Not `TemplateNotFound`: include/import would replace the message with their own and
        // lose why the name was refused.
        Err(msg) if msg.starts_with("there is no template") => {
            Err(JError::new(ErrorKind::TemplateNotFound, msg))
        }
        Err(msg) => Err(JError::new(ErrorKind::InvalidOperation, msg)),
    });
    filters::register(&mut env);
    platform::register(&mut env);
    env
}

/// Check every template before rendering: it must parse, and interpolate YAML-safely.
pub fn check_templates(env: &Environment<'static>, templates: &Templates) -> Result<(), Error> {
    let mut problems = Vec::new();
    for (name, file) in templates.iter() {
        if std::path::Path::new(name)
            .extension()
            .is_none_or(|e| e != "j2")
        {
            continue;
        }
        if escape::auto_escape_for(name) == minijinja::AutoEscape::Json {
            for m in escape::find_misuse(&file.source) {
                problems.push(
                    Diagnostic::error(m.message.clone())
                        .with_excerpt(Excerpt::from_text(
                            &file.shown_as,
                            &file.source,
                            m.range,
                            "an expression must stand alone as a YAML value",
                        ))
                        .help(m.help),
                );
            }
        }
        match crate::guard::catch(|| env.get_template(name).map(|_| ())) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => problems.push(template_error(&e, templates, None)),
            Err(bug) => problems.push(engine_bug(templates, name, &bug)),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Project(problems))
    }
}

/// A `fail(..., at=PATH)` or `required(..., at=PATH)` error, pointed at the values line that
/// set PATH (or, when nothing set it, saying to set it), with the template as a note. The
/// message names no instance, so the same problem in many instances is reported once.
fn blamed(
    err: &JError,
    templates: &Templates,
    (values, sources): (&Node, &Sources),
) -> Option<Diagnostic> {
    let raised = std::error::Error::source(err)?.downcast_ref::<filters::Raised>()?;
    let at = raised.at.as_deref()?;
    let path = crate::values::set::parse_path(at).ok()?;
    let mut d = Diagnostic::error(err.detail().unwrap_or("the template stopped").to_string());
    d = match crate::values::set::lookup(values, &path) {
        Some(node) if node.loc != crate::source::Loc::default() => {
            d.at(sources, node.loc, "set here")
        }
        _ => d.help(format!("set `{at}` in a values file")),
    };
    if let Some(name) = err.name() {
        let shown = templates
            .get(name)
            .map_or_else(|_| name.to_string(), |f| f.shown_as.clone());
        d = d.note(match err.line() {
            Some(line) => format!("checked by `{shown}`, line {line}"),
            None => format!("checked by `{shown}`"),
        });
    }
    Some(d)
}

/// The template engine panicked on `name`: say so at the line that makes it fail, found by
/// compiling ever longer prefixes of the template, not with a backtrace.
fn engine_bug(templates: &Templates, name: &str, bug: &str) -> Diagnostic {
    let Ok(file) = templates.get(name) else {
        return Diagnostic::error(format!(
            "template `{name}`: the template engine failed ({bug})"
        ));
    };
    let mut d = Diagnostic::error(format!(
        "template `{}` could not be compiled: the template engine failed ({bug})",
        file.shown_as
    ));
    let source = &file.source;
    let ends = source
        .match_indices('\n')
        .map(|(i, _)| i)
        .chain([source.len()]);
    for end in ends {
        let prefix = &source[..end];
        let panics = crate::guard::catch(|| {
            let _ = Environment::new().template_from_str(prefix);
        })
        .is_err();
        if panics {
            let start = source[..end].rfind('\n').map_or(0, |i| i + 1);
            d = d.with_excerpt(Excerpt::from_text(
                &file.shown_as,
                source,
                start..end,
                "the engine fails on this line",
            ));
            break;
        }
    }
    d.help("look for a malformed `{% ... %}` or `{{ ... }}` tag (a stray character before `%}` or `}}`, full-width or curly punctuation) and write it in plain ASCII")
}

/// Turn a minijinja error into a diagnostic pointing at the template expression.
#[must_use]
pub fn template_error(err: &JError, templates: &Templates, instance: Option<&str>) -> Diagnostic {
    let file = err.name().and_then(|n| templates.get(n).ok());
    // minijinja points at the failing attribute (`.cpu`); widen to the whole dotted expression.
    let range = match (file, err.range()) {
        (Some(f), Some(r)) if r.end <= f.source.len() => Some(widen_expression(
            &f.source,
            crate::source::char_range(&f.source, r),
        )),
        _ => None,
    };
    let expr = match (file, &range) {
        (Some(f), Some(r)) => Some(f.source[r.clone()].to_string()),
        _ => None,
    };
    let message = match err.kind() {
        ErrorKind::UndefinedError => match &expr {
            Some(e) => format!("undefined value in `{e}`"),
            None => "undefined value".to_string(),
        },
        ErrorKind::OutOfFuel => {
            "template did too much work and was stopped (an endless or very large loop?)"
                .to_string()
        }
        // `fail("...")` and `required("...")`: the template author's own words.
        _ if std::error::Error::source(err)
            .is_some_and(|s| s.downcast_ref::<filters::Raised>().is_some()) =>
        {
            err.detail().unwrap_or("the template stopped").to_string()
        }
        kind => match err.detail() {
            Some(d) => format!("{kind}: {d}"),
            None => kind.to_string(),
        },
    };
    let mut d = Diagnostic::error(message);
    if let Some(f) = file {
        let range = range.clone().unwrap_or_else(|| {
            let start = crate::source::line_offset(&f.source, err.line().unwrap_or(1));
            let end = f.source[start..]
                .find('\n')
                .map_or(f.source.len(), |i| start + i);
            start..end
        });
        let label = match err.kind() {
            ErrorKind::UndefinedError => "not defined for this instance",
            ErrorKind::SyntaxError => "syntax error",
            _ => "here",
        };
        d = d.with_excerpt(Excerpt::from_text(&f.shown_as, &f.source, range, label));
    } else if let Some(name) = err.name() {
        d = d.note(format!("in template `{name}`"));
    }
    if let Some(i) = instance {
        d = d.note(format!("while rendering {i}"));
    }
    match err.kind() {
        ErrorKind::UndefinedError => {
            d = d.help("set the value in a values file, or give a fallback: `{{ values.x | default(1) }}`, `{% if values.x is defined %}`");
        }
        ErrorKind::OutOfFuel => d = d.help("check loop bounds and recursive macro calls"),
        _ => {}
    }
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        if s.downcast_ref::<filters::Raised>().is_none() {
            d = d.note(format!("caused by: {s}"));
        }
        source = s.source();
    }
    d
}

/// Extend `range` backwards over the dotted/indexed name it ends in: `.cpu` in
/// `values.resources.cpu` becomes the whole `values.resources.cpu`.
fn widen_expression(source: &str, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let bytes = source.as_bytes();
    let mut start = range.start;
    while start > 0 {
        let c = bytes[start - 1];
        if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'[' | b']' | b'"' | b'\'') {
            start -= 1;
        } else {
            break;
        }
    }
    start..range.end
}

/// One output file's worth of rendering: an instance, or an environment's `_env` templates.
#[derive(Debug)]
pub struct FileResult<T> {
    /// `<env>/<instance>.yaml`, relative to the output folder.
    pub path: String,
    /// Index of the environment.
    pub env: usize,
    /// The identity and origin of every object in the file, in output order.
    pub ids: Vec<(ResourceId, Arc<Origin>)>,
    /// What the caller's `finish` made of the file's manifests.
    pub payload: T,
}

/// The `env` object of every template.
#[must_use]
pub fn env_context(env: &KEnv) -> JValue {
    context! {
        name => env.name.clone(),
        namespace => env.namespace.clone(),
        kubeVersion => env.kube_version.to_string(),
        cluster => env.cluster.clone(),
    }
}

/// Render every instance plus the `_env` templates of each environment in `env_values` (each
/// environment's merged values without a service). `extra_context` gives the computed context
/// values of an environment (`eureka`, `ingress`), merged into every template's context. Work is split per output file and runs in
/// parallel; `finish` turns a file's sorted manifests into whatever the caller keeps (YAML text
/// for `render`, the manifests themselves for checks), on the worker thread, so memory holds
/// only what the caller keeps. A worker renders `batch` service files, then finishes each of
/// them (see [`crate::command::Pipeline::batch`]). Also returns what each environment's objects
/// say about node ports, for [`shared_cluster`].
#[allow(
    clippy::too_many_arguments,
    clippy::implicit_hasher,
    reason = "one caller (Pipeline::render_only) that passes its own state through"
)]
pub fn render_all<T: Send>(
    jenv: &Environment<'static>,
    templates: &Templates,
    environments: &[KEnv],
    instances: &[Instance],
    env_values: &HashMap<usize, Node, impl std::hash::BuildHasher + Sync>,
    extra_context: &(dyn Fn(usize) -> JValue + Sync),
    only: Option<&std::collections::HashSet<String>>,
    sources: &Sources,
    batch: usize,
    finish: &(dyn Fn(&[Manifest]) -> Result<T, Diagnostic> + Sync),
) -> Result<(Vec<FileResult<T>>, Vec<(usize, Ports)>), Error> {
    // Unknown template sets are reported once per set, with a suggestion.
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for inst in instances {
        if !templates.has_set(&inst.template) && seen.insert(inst.template.clone()) {
            let mut d = Diagnostic::error(format!(
                "service `{}` uses template set `{}`, which does not exist",
                inst.service, inst.template
            ));
            d = match did_you_mean(&inst.template, templates.sets()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("template sets: {}", templates.sets().join(", "))),
            };
            problems.push(d);
        }
    }
    if !problems.is_empty() {
        return Err(Error::Project(problems));
    }

    // Each instance's values become a template value once, shared by its own templates and by
    // the `services` list of its environment's `_env` templates.
    let values: Vec<JValue> = crate::par::map(instances, |i| JValue::from(Serde(&i.values)));
    let mut env_ids: Vec<usize> = env_values.keys().copied().collect();
    env_ids.sort_unstable();
    let env_jobs: Vec<(usize, JValue)> = env_ids
        .iter()
        .map(|e| {
            let services: Vec<JValue> = instances
                .iter()
                .zip(&values)
                .filter(|(i, _)| i.env == *e)
                .map(|(i, v)| context! { name => i.name.clone(), base => i.service.clone(), variant => i.variant.clone(), template => i.template.clone(), values => v.clone() })
                .collect();
            let ctx = context! {
                values => JValue::from(Serde(&env_values[e])),
                env => env_context(&environments[*e]),
                services => services,
                ..extra_context(*e)
            };
            (*e, ctx)
        })
        .collect();
    let env_files = templates.set_files("_env");

    // `only`: render just these services' files (the `_env` templates still see every instance).
    // Ports matter only where two render targets share a cluster (see `shared_cluster`).
    let on_shared_cluster: Vec<bool> = environments
        .iter()
        .map(|e| {
            e.cluster.as_ref().is_some_and(|c| {
                environments
                    .iter()
                    .filter(|o| o.cluster.as_ref() == Some(c))
                    .count()
                    > 1
            })
        })
        .collect();
    let chosen: Vec<(&Instance, &JValue)> = instances
        .iter()
        .zip(&values)
        .filter(|(inst, _)| only.is_none_or(|o| o.contains(&inst.service)))
        .collect();
    let batch = batch.max(1);
    // Small pieces (four files): rayon stops splitting a range no thread has stolen from, so
    // the last thread busy could otherwise be left rendering a long run alone while the other
    // idles. Each piece renders `batch` files, then finishes each of them.
    let service_results = chosen
        .par_chunks(batch)
        .with_max_len(4usize.div_ceil(batch))
        .flat_map_iter(|piece| {
            let rendered: Vec<Result<Vec<Manifest>, Diagnostic>> = piece
                .iter()
                .map(|&(inst, v)| {
                    let env = &environments[inst.env];
                    let ctx = context! {
                        values => v.clone(),
                        service => context! {
                            name => inst.name.clone(),
                            base => inst.service.clone(),
                            variant => inst.variant.clone(),
                            template => inst.template.clone(),
                        },
                        env => env_context(env),
                        ..extra_context(inst.env)
                    };
                    render_file(
                        jenv,
                        templates,
                        &templates.set_files(&inst.template),
                        &ctx,
                        env,
                        &inst.name,
                        (&inst.values, &inst.patches, sources),
                    )
                })
                .collect();
            piece.iter().zip(rendered).map(|(&(inst, _), manifests)| {
                finish_file(
                    manifests?,
                    (
                        inst.env,
                        &environments[inst.env],
                        on_shared_cluster[inst.env],
                    ),
                    &inst.name,
                    finish,
                )
            })
        });
    let env_results = env_jobs.par_iter().map(|(e, ctx)| {
        let env = &environments[*e];
        let manifests = render_file(
            jenv,
            templates,
            &env_files,
            ctx,
            env,
            "_env",
            (&env_values[e], &[], sources),
        )?;
        finish_file(manifests, (*e, env, on_shared_cluster[*e]), "_env", finish)
    });
    let results: Vec<Result<(FileResult<T>, Ports), Diagnostic>> =
        service_results.chain(env_results).collect();

    let mut files = Vec::new();
    let mut ports: HashMap<usize, Ports> = HashMap::new();
    for r in results {
        match r {
            Ok((f, p)) => {
                ports.entry(f.env).or_default().extend(p);
                files.push(f);
            }
            Err(d) => problems.push(d),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Project(dedup(problems)));
    }
    // Two instances must not produce the same object.
    let mut ids: foldhash::HashMap<(usize, &ResourceId), &Origin> =
        foldhash::HashMapExt::with_capacity(files.iter().map(|f| f.ids.len()).sum());
    for f in &files {
        for (id, origin) in &f.ids {
            if let Some(first) = ids.insert((f.env, id), origin) {
                problems.push(
                    Diagnostic::error(format!(
                        "`{id}` is rendered twice in environment `{}`",
                        origin.env
                    ))
                    .note(format!("by `{}` for `{}`", first.template, first.instance))
                    .note(format!(
                        "and by `{}` for `{}`",
                        origin.template, origin.instance
                    ))
                    .help("give each object a unique name, e.g. from `service.name`"),
                );
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::Project(problems));
    }
    files.sort_by(|a, b| (a.env, &a.path).cmp(&(b.env, &b.path)));
    let mut ports: Vec<(usize, Ports)> = ports.into_iter().collect();
    ports.sort_by_key(|(e, _)| *e);
    Ok((files, ports))
}

/// The objects of one file: its templates rendered, patched and put in order.
fn render_file(
    jenv: &Environment<'static>,
    templates: &Templates,
    names: &[&str],
    ctx: &JValue,
    env: &KEnv,
    instance: &str,
    (values, patches, sources): (&Node, &[Node], &Sources),
) -> Result<Vec<Manifest>, Diagnostic> {
    let values = (values, sources);
    let mut manifests = Vec::new();
    for name in names {
        manifests.extend(render_one(
            jenv,
            templates,
            name,
            ctx.clone(),
            env,
            instance,
            values,
        )?);
    }
    // Patches apply after rendering and before every check, sort and duplicate test.
    crate::manifest::patch::apply(&mut manifests, patches, sources).map_err(|d| {
        d.note(format!(
            "while rendering `{instance}` in environment `{}`",
            env.folder
        ))
    })?;
    crate::manifest::order::sort(&mut manifests);
    Ok(manifests)
}

/// One rendered file: `finish` run on its objects, which are then kept as identities.
fn finish_file<T>(
    manifests: Vec<Manifest>,
    (env_index, env, on_shared_cluster): (usize, &KEnv, bool),
    instance: &str,
    finish: &(dyn Fn(&[Manifest]) -> Result<T, Diagnostic> + Sync),
) -> Result<(FileResult<T>, Ports), Diagnostic> {
    let payload = finish(&manifests)?;
    let ports = if on_shared_cluster {
        Ports::of(&manifests)
    } else {
        Ports::default()
    };
    Ok((
        FileResult {
            path: format!("{}/{instance}.yaml", env.folder),
            env: env_index,
            ids: manifests.into_iter().map(|m| (m.id, m.origin)).collect(),
            payload,
        },
        ports,
    ))
}

/// Environments on one cluster share it: an object two of them write (a cluster-scoped one, or
/// one in a namespace both use) would be owned twice, and a node port two of them bind is
/// taken by whichever starts first. Identity is group, kind, namespace (as written) and name,
/// whatever the template; each clash is reported once, naming both sources.
pub fn shared_cluster<T>(
    environments: &[KEnv],
    files: &[FileResult<T>],
    ports: Vec<(usize, Ports)>,
) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let source = |env: usize, origin: &Origin| {
        let of = if origin.instance == "_env" {
            String::new()
        } else {
            format!(" for `{}`", origin.instance)
        };
        format!(
            "environment `{}`: `{}`{of}",
            environments[env].folder, origin.template_shown
        )
    };
    let mut owners: HashMap<(&str, &str, &str, Option<&str>, &str), (usize, &Origin)> =
        HashMap::new();
    let mut reported = std::collections::HashSet::new();
    for f in files {
        let Some(cluster) = environments[f.env].cluster.as_deref() else {
            continue;
        };
        for (id, origin) in &f.ids {
            let key = (
                cluster,
                id.group(),
                id.kind.as_str(),
                id.namespace.as_deref(),
                id.name.as_str(),
            );
            match owners.get(&key) {
                None => {
                    owners.insert(key, (f.env, origin));
                }
                Some((first, first_origin)) if *first != f.env && reported.insert(key) => {
                    let what = match &id.namespace {
                        Some(ns) => format!("{} {ns}/{}", id.kind, id.name),
                        None => format!("{} {} (cluster-scoped)", id.kind, id.name),
                    };
                    problems.push(
                        Diagnostic::error(format!(
                            "`{what}` is written by two environments on cluster `{cluster}`"
                        ))
                        .note(format!("by {}", source(*first, first_origin)))
                        .note(format!("and by {}", source(f.env, origin)))
                        .help("an object on a cluster has one owner: render it in one environment only (set it in that environment's values), or give each environment's copy its own name or namespace"),
                    );
                }
                Some(_) => {}
            }
        }
    }
    let mut taken: HashMap<(&str, String, i64), (usize, crate::manifest::claims::PortClaim)> =
        HashMap::new();
    let mut reported = std::collections::HashSet::new();
    for (env, p) in ports {
        let Some(cluster) = environments[env].cluster.as_deref() else {
            continue;
        };
        for claim in p.resolve() {
            let key = (cluster, claim.protocol.clone(), claim.port);
            match taken.get(&key) {
                None => {
                    taken.insert(key, (env, claim));
                }
                Some((first, first_claim)) if *first != env && reported.insert(key.clone()) => {
                    problems.push(
                        Diagnostic::error(format!(
                            "port {}/{} is claimed by two environments on cluster `{cluster}`",
                            claim.port, claim.protocol
                        ))
                        .note(format!(
                            "by environment `{}`: {} (`{}`)",
                            environments[*first].folder, first_claim.how, first_claim.template
                        ))
                        .note(format!(
                            "and by environment `{}`: {} (`{}`)",
                            environments[env].folder, claim.how, claim.template
                        ))
                        .help("a node port is bound once per cluster: give one environment another port, or claim it in one environment only"),
                    );
                }
                Some(_) => {}
            }
        }
    }
    problems
}

fn render_one(
    jenv: &Environment<'static>,
    templates: &Templates,
    name: &str,
    ctx: JValue,
    env: &KEnv,
    instance: &str,
    values: (&Node, &Sources),
) -> Result<Vec<Manifest>, Diagnostic> {
    let what = if instance == "_env" {
        format!("the environment-level templates of `{}`", env.folder)
    } else {
        format!("`{instance}` in environment `{}`", env.folder)
    };
    // The engine has unreachable!() arms on some malformed input; a panic there becomes an
    // error at the template, and the rest of the run goes on.
    let _watched = crate::guard::watch(format!("template `{name}` for {what}"));
    let text = crate::guard::catch(|| {
        jenv.get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| {
                blamed(&e, templates, values)
                    .unwrap_or_else(|| template_error(&e, templates, Some(&what)))
            })
    })
    .map_err(|bug| engine_bug(templates, name, &bug).note(format!("while rendering {what}")))??;
    let shown = templates
        .get(name)
        .map_or_else(|_| name.to_string(), |f| f.shown_as.clone());
    let docs = yaml::parse_stream_unlocated(&text, Dialect::Kube).map_err(|e| {
        let at = e.loc(0, &text);
        let excerpt_name = format!("output of {shown}");
        Diagnostic::error(format!(
            "template `{shown}` rendered invalid YAML: {}",
            e.message
        ))
        .with_excerpt(Excerpt::from_text(
            &excerpt_name,
            &text,
            at.range(),
            &e.message,
        ))
        .note(format!("while rendering {what}"))
        .help("the lines above are the rendered output; fix the template lines that produce them")
    })?;
    let origin = Arc::new(Origin {
        template: name.to_string(),
        template_shown: shown.clone(),
        env: env.folder.clone(),
        instance: instance.to_string(),
    });
    let mut out = Vec::new();
    for doc in docs {
        match ResourceId::of(&doc) {
            Ok(id) => out.push(Manifest {
                id,
                doc,
                origin: Arc::clone(&origin),
            }),
            Err(why) => {
                let excerpt_name = format!("output of {shown} for {}/{instance}", env.folder);
                return Err(Diagnostic::error(format!(
                    "template `{shown}` rendered a document that is not a Kubernetes object: {why}"
                ))
                .with_excerpt(Excerpt::from_text(
                    &excerpt_name,
                    &text,
                    doc.loc.offset as usize..doc.loc.offset as usize,
                    why,
                ))
                .note(format!("while rendering {what}")));
            }
        }
    }
    Ok(out)
}
