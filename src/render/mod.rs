//! Rendering: template sets to parsed manifests, in parallel, deterministically.
//!
//! Builds the one minijinja environment (strict undefined, YAML-safe escaping, fuel limit,
//! templates only from the project folder and the built-in library), renders every instance's
//! set and every environment's `_env` templates, and parses each output as YAML. A problem
//! becomes a [`Diagnostic`] naming the template, line and instance. Writes nothing.

pub mod escape;
pub mod filters;
pub mod platform;
pub mod templates;

use std::collections::HashMap;
use std::sync::Arc;

use minijinja::syntax::SyntaxConfig;
use minijinja::{
    Environment, Error as JError, ErrorKind, UndefinedBehavior, Value as JValue, context,
};
use rayon::prelude::*;

use crate::config::Environment as KEnv;
use crate::diagnostic::{Diagnostic, Excerpt, did_you_mean};
use crate::error::Error;
use crate::manifest::{Manifest, Origin, ResourceId};
use crate::values::{Instance, dedup};
use crate::yaml::{self, Dialect, Node};

pub use templates::Templates;

/// How much work one template render may do before it is stopped (a runaway loop). Generous:
/// the largest built-in template uses well under 1% of it.
const FUEL: u64 = 50_000_000;

/// Build the template environment over `templates`.
#[must_use]
pub fn environment(templates: &Arc<Templates>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(escape::auto_escape_for);
    env.set_fuel(Some(FUEL));
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
        Err(msg) => Err(JError::new(ErrorKind::TemplateNotFound, msg)),
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
        if let Err(e) = env.get_template(name) {
            problems.push(template_error(&e, templates, None));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Project(problems))
    }
}

/// Turn a minijinja error into a diagnostic pointing at the template expression.
#[must_use]
pub fn template_error(err: &JError, templates: &Templates, instance: Option<&str>) -> Diagnostic {
    let file = err.name().and_then(|n| templates.get(n).ok());
    let expr = match (file, err.range()) {
        (Some(f), Some(r)) if r.end <= f.source.len() => Some(f.source[r].to_string()),
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
        kind => match err.detail() {
            Some(d) => format!("{kind}: {d}"),
            None => kind.to_string(),
        },
    };
    let mut d = Diagnostic::error(message);
    if let Some(f) = file {
        let range = err
            .range()
            .filter(|r| r.end <= f.source.len())
            .unwrap_or_else(|| {
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
        d = d.note(format!("caused by: {s}"));
        source = s.source();
    }
    d
}

/// Everything one render produced.
#[derive(Debug, Default)]
pub struct Rendered {
    /// Every manifest, in output order within each file.
    pub manifests: Vec<Manifest>,
}

/// The context a service template sees for `instance`.
fn service_context(inst: &Instance, env: &KEnv, eureka: &JValue) -> JValue {
    context! {
        values => JValue::from(minijinja::value::Serde(&inst.values)),
        service => context! {
            name => inst.name.clone(),
            base => inst.service.clone(),
            variant => inst.variant.clone(),
            template => inst.template.clone(),
        },
        env => env_context(env),
        eureka => eureka.clone(),
    }
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

/// Render every instance plus the `_env` templates of each environment in `envs`.
/// `env_values` holds each environment's merged values without a service.
pub fn render_all(
    jenv: &Environment<'static>,
    templates: &Templates,
    environments: &[KEnv],
    instances: &[Instance],
    env_values: &HashMap<usize, Node, impl std::hash::BuildHasher + Sync>,
    extra_context: &(dyn Fn(usize) -> JValue + Sync),
) -> Result<Rendered, Error> {
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

    let mut jobs: Vec<Job<'_>> = Vec::new();
    for inst in instances {
        for t in templates.set_files(&inst.template) {
            jobs.push(Job::Service(inst, t));
        }
    }
    let mut env_ids: Vec<usize> = env_values.keys().copied().collect();
    env_ids.sort_unstable();
    for e in env_ids {
        for t in templates.set_files("_env") {
            jobs.push(Job::Env(e, t));
        }
    }
    let results: Vec<Result<Vec<Manifest>, Diagnostic>> = jobs
        .par_iter()
        .map(|job| {
            let (template, env_index, instance_name, ctx) = match job {
                Job::Service(inst, t) => {
                    let env = &environments[inst.env];
                    (*t, inst.env, inst.name.as_str(), service_context(inst, env, &extra_context(inst.env)))
                }
                Job::Env(e, t) => {
                    let env = &environments[*e];
                    let services: Vec<JValue> = instances
                        .iter()
                        .filter(|i| i.env == *e)
                        .map(|i| {
                            context! { name => i.name.clone(), base => i.service.clone(), variant => i.variant.clone(), template => i.template.clone(), values => JValue::from(minijinja::value::Serde(&i.values)) }
                        })
                        .collect();
                    let ctx = context! {
                        values => JValue::from(minijinja::value::Serde(&env_values[e])),
                        env => env_context(env),
                        services => services,
                        eureka => extra_context(*e),
                    };
                    (*t, *e, "_env", ctx)
                }
            };
            let env = &environments[env_index];
            render_one(jenv, templates, template, ctx, env, instance_name)
        })
        .collect();
    let mut manifests = Vec::new();
    for r in results {
        match r {
            Ok(list) => manifests.extend(list),
            Err(d) => problems.push(d),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Project(dedup(problems)));
    }
    // Two instances must not produce the same object.
    let mut ids: HashMap<(&str, &ResourceId), &Origin> = HashMap::new();
    for m in &manifests {
        if let Some(first) = ids.insert((m.origin.env.as_str(), &m.id), &m.origin) {
            problems.push(
                Diagnostic::error(format!(
                    "`{}` is rendered twice in environment `{}`",
                    m.id, m.origin.env
                ))
                .note(format!("by `{}` for `{}`", first.template, first.instance))
                .note(format!(
                    "and by `{}` for `{}`",
                    m.origin.template, m.origin.instance
                ))
                .help("give each object a unique name, e.g. from `service.name`"),
            );
        }
    }
    if !problems.is_empty() {
        return Err(Error::Project(problems));
    }
    Ok(Rendered { manifests })
}

enum Job<'a> {
    Service(&'a Instance, &'a str),
    Env(usize, &'a str),
}

fn render_one(
    jenv: &Environment<'static>,
    templates: &Templates,
    name: &str,
    ctx: JValue,
    env: &KEnv,
    instance: &str,
) -> Result<Vec<Manifest>, Diagnostic> {
    let what = if instance == "_env" {
        format!("the environment-level templates of `{}`", env.name)
    } else {
        format!("`{instance}` in environment `{}`", env.name)
    };
    let template = jenv
        .get_template(name)
        .map_err(|e| template_error(&e, templates, Some(&what)))?;
    let text = template
        .render(ctx)
        .map_err(|e| template_error(&e, templates, Some(&what)))?;
    let shown = templates
        .get(name)
        .map_or_else(|_| name.to_string(), |f| f.shown_as.clone());
    let docs = yaml::parse_stream(&text, 0, Dialect::Kube).map_err(|e| {
        let at = e.loc(0, &text);
        let excerpt_name = format!("output of {shown} for {}/{instance}", env.name);
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
        env: env.name.clone(),
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
                let excerpt_name = format!("output of {shown} for {}/{instance}", env.name);
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
