//! `kiln adopt`: a folder of manifests (one folder per environment) into a kiln project that
//! renders the same objects.
//!
//! [`read`] reads and groups the input; [`builtin`] fits instances to the built-in sets
//! (candidate values from [`fit`] and [`stores`], checked by trial renders the caller runs,
//! [`patch`] for a few differences); [`factor`] turns the other instances of one shape into one
//! template set (anti-unification); [`layer`] puts the values in the lowest layer that holds
//! them and [`clusters`] folds `<env>@<cluster>` folders into one environment. This module ties
//! them together and produces the project's files as text and the report as data;
//! `command::adopt` renders, writes them and proves the round trip. Comments and key order of
//! the input are not kept.

pub mod builtin;
pub mod clusters;
pub mod envset;
pub mod factor;
pub mod fit;
pub mod keys;
pub mod layer;
pub mod patch;
pub mod read;
pub mod stores;

use std::collections::{BTreeMap, BTreeSet};

use crate::yaml::Map;
use indexmap::IndexMap;

use crate::kube::KubeVersion;
use crate::kube::applyset;
use crate::source::Loc;
use crate::yaml::{Node, Value};
pub use builtin::{Render, Rendered};
use factor::{Ctx, Hole, Tmpl};
use read::{EnvInput, Object};

/// The Kubernetes version written for an environment whose objects do not pin one.
pub const DEFAULT_KUBE_VERSION: &str = "1.35";

/// One template set the adoption wrote.
#[derive(Debug, Clone)]
pub struct SetReport {
    /// Its folder under `templates/`.
    pub name: String,
    /// Services rendered with it.
    pub services: usize,
    /// Instances (service x environment) rendered with it.
    pub instances: usize,
    /// Objects per instance.
    pub objects: usize,
    /// Values it reads.
    pub values: usize,
    /// A built-in set the instances were fitted to (nothing written under `templates/`).
    pub builtin: bool,
}

/// What the adoption did, as data (never a value: the report is safe to print).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Environments, in order.
    pub envs: Vec<String>,
    /// Template sets written.
    pub sets: Vec<SetReport>,
    /// Objects read.
    pub objects: usize,
    /// Instances whose set has no other instance: their objects are kept verbatim.
    pub verbatim: usize,
    /// Bytes and lines read.
    pub input_bytes: usize,
    /// Lines read.
    pub input_lines: usize,
    /// Bytes and lines of values files written.
    pub values_bytes: usize,
    /// Lines of values files written.
    pub values_lines: usize,
    /// Bytes of templates written.
    pub template_bytes: usize,
    /// Patches written (factoring never needs one).
    pub patches: usize,
    /// Instances a built-in set was tried for and did not reproduce (factored instead).
    pub unfitted: usize,
    /// Why no instance could be tried with the built-in sets (their trial did not render).
    pub fit_error: Option<String>,
    /// The built-in `_env` set renders each environment's Namespace and team access.
    pub env_fitted: bool,
    /// ... and its ingress-nginx controller and port maps.
    pub env_ingress: bool,
    /// `<env>@<cluster>` folders were adopted as environments of their own (a service differs
    /// between the clusters of one environment, or the folders name clusters inconsistently).
    pub clusters_split: bool,
    /// ApplySet parents dropped and member labels removed (now the `applyset:` setting).
    pub applyset_parents: usize,
    /// Secret values that are digests (`sha256:...`, golden files): they cannot be reversed.
    pub digests: usize,
    /// Values whose key or content looks like a secret, as `file: key` (never the value).
    pub secret_values: Vec<String>,
    /// The `*.sops.yaml` files written in plaintext, to encrypt.
    pub secret_files: Vec<String>,
}

/// The project, as files (path relative to the project root -> text), and the report.
#[derive(Debug)]
pub struct Adopted {
    /// Every file to write.
    pub files: BTreeMap<String, String>,
    /// The values files as the proof renders them: each secret value in its plain layer, where
    /// `files` has it in the `*.sops.yaml` twin (which kiln reads only once sops encrypted it).
    pub proof: BTreeMap<String, String>,
    /// What was done.
    pub report: Report,
    /// The input objects each environment's render must reproduce (ApplySet labels and parents
    /// taken out), by environment name.
    pub expected: Vec<(String, Vec<Object>)>,
}

/// Take the ApplySet parents out and the member labels off; how many parents there were.
fn strip_applyset(objects: &mut Vec<Object>) -> usize {
    let before = objects.len();
    objects.retain(|o| {
        o.doc
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .and_then(|l| l.get(applyset::ID))
            .is_none()
    });
    let parents = before - objects.len();
    for o in objects.iter_mut() {
        let Some(meta) = o.doc.get_mut("metadata") else {
            continue;
        };
        let empty = match meta.get_mut("labels").map(|l| &mut l.value) {
            Some(Value::Map(l)) => l.shift_remove(applyset::PART_OF).is_some() && l.is_empty(),
            _ => false,
        };
        if empty && let Value::Map(m) = &mut meta.value {
            m.shift_remove("labels");
        }
    }
    parents
}

/// The newest version that still serves every object's API (none removed), or the default.
fn kube_version_of(objects: &[&Object]) -> String {
    let newest = objects
        .iter()
        .filter_map(|o| {
            crate::kube::apis::table()
                .iter()
                .find(|r| r.api_version == o.id.api_version && r.kind == o.id.kind)
                .and_then(crate::kube::apis::Removal::removed_in)
        })
        .min();
    match newest {
        Some(v) => KubeVersion {
            major: v.major,
            minor: v.minor.saturating_sub(1),
        }
        .to_string(),
        None => DEFAULT_KUBE_VERSION.to_string(),
    }
}

/// Where an object sits in its instance's shape: kind and name with the instance's name and
/// namespace taken out.
fn slot(o: &Object, ctx: &Ctx) -> String {
    let abstract_name = o.id.name.replace(&ctx.service, "\u{1}");
    let ns = match &o.id.namespace {
        None => String::new(),
        Some(n) if *n == ctx.namespace => "\u{2}".to_string(),
        Some(n) => n.clone(),
    };
    format!(
        "{}|{}|{}|{}",
        o.id.api_version, o.id.kind, ns, abstract_name
    )
}

/// A member of a set: one instance in one environment.
struct Member<'a> {
    env: usize,
    ctx: Ctx,
    objects: Vec<&'a Object>,
}

/// Adopt the environments read from the input; `render` renders trial projects (the fit of
/// the built-in sets).
pub fn adopt(
    mut envs: Vec<EnvInput>,
    kube_version: Option<&str>,
    render: &Render<'_>,
) -> Result<Adopted, String> {
    let mut parents = 0;
    for e in &mut envs {
        parents += strip_applyset(&mut e.objects);
    }
    let split = envs.iter().any(|e| e.cluster.is_some());
    if split {
        if clusters::consistent(&envs)
            && let Some(a) = adopt_as(envs.clone(), kube_version, render, parents)?
        {
            return Ok(a);
        }
        envs = clusters::split(envs);
    }
    let mut a = adopt_as(envs, kube_version, render, parents)?
        .ok_or_else(|| "an environment on no cluster was folded".to_string())?;
    a.report.clusters_split = split;
    Ok(a)
}

/// [`adopt`] with the folders as given: none when a service differs between the clusters of
/// one environment (then every folder is adopted as an environment of its own).
fn adopt_as(
    envs: Vec<EnvInput>,
    kube_version: Option<&str>,
    render: &Render<'_>,
    parents: usize,
) -> Result<Option<Adopted>, String> {
    let mut report = Report {
        applyset_parents: parents,
        ..Report::default()
    };
    for e in &envs {
        report.objects += e.objects.len();
        report.input_bytes += e.bytes;
        report.input_lines += e.lines;
        report.envs.push(e.name.clone());
    }
    let kiln = clusters::kiln_yaml(&envs, kube_version, report.applyset_parents > 0)?;
    let trial_kiln = clusters::trial_kiln_yaml(&envs, kube_version)?;
    let fitted = builtin::fit(&envs, &trial_kiln, render, &mut report);
    let env_fit = builtin::fit_env(&envs, &kiln, render, &fitted);
    report.env_fitted = env_fit.is_some();
    report.env_ingress = env_fit.as_ref().is_some_and(|f| f.with_ingress);
    // What a fitted set does not render stays with the instance `<name>-extra`.
    let mut covered: BTreeSet<(usize, &crate::manifest::ResourceId)> = BTreeSet::new();
    let mut fitted_names: BTreeSet<(usize, &str)> = BTreeSet::new();
    for (e, ids) in env_fit.iter().flat_map(|f| f.covered.iter().enumerate()) {
        for id in ids {
            covered.insert((e, id));
        }
    }
    for f in &fitted {
        for p in &f.parts {
            fitted_names.insert((f.env, p));
        }
        for id in &f.covered {
            covered.insert((f.env, id));
        }
    }
    let all_names: BTreeSet<&str> = envs
        .iter()
        .flat_map(|e| e.objects.iter().map(|o| o.instance.as_str()))
        .collect();
    // Instances of the same shape, in every environment, make one set.
    let mut shapes: IndexMap<Vec<String>, Vec<Member<'_>>> = IndexMap::new();
    for (ei, e) in envs.iter().enumerate() {
        let mut instances: IndexMap<String, Vec<&Object>> = IndexMap::new();
        for o in &e.objects {
            if covered.contains(&(ei, &o.id)) {
                continue;
            }
            let name = if fitted_names.contains(&(ei, o.instance.as_str())) {
                let mut n = format!("{}-extra", o.instance);
                while all_names.contains(n.as_str()) {
                    n.push('x');
                }
                n
            } else {
                o.instance.clone()
            };
            instances.entry(name).or_default().push(o);
        }
        for (name, mut objects) in instances {
            let ctx = Ctx {
                service: name.clone(),
                env: e.env.clone(),
                namespace: e.namespace.clone(),
            };
            objects.sort_by_cached_key(|o| slot(o, &ctx));
            let shape: Vec<String> = objects.iter().map(|o| slot(o, &ctx)).collect();
            shapes.entry(shape).or_default().push(Member {
                env: ei,
                ctx,
                objects,
            });
        }
    }
    let builtin: Vec<String> = crate::render::Templates::builtins()
        .filter_map(|(n, _)| n.split_once('/').map(|(s, _)| s.to_string()))
        .collect();
    let mut files = BTreeMap::new();
    let mut set_names: Vec<String> = Vec::new();
    let mut members_values: Vec<layer::Member> = Vec::new();
    let mut secret_holes: BTreeSet<String> = BTreeSet::new();
    // Values some members must not have (they take the template's default).
    let mut sparse: BTreeSet<String> = BTreeSet::new();
    // The keys of the fitted built-in sets are theirs: factored values are named apart.
    let fitted_sets: BTreeSet<&str> = fitted.iter().map(|f| f.set).collect();
    let mut reserved: Vec<String> = fitted_sets
        .iter()
        .flat_map(|s| keys::schema_keys(s))
        .collect();
    if env_fit.is_some() {
        reserved.extend(["teams", "namespace", "ingressNginx"].map(String::from));
    }
    for members in shapes.values() {
        let services: BTreeSet<&str> = members.iter().map(|m| m.ctx.service.as_str()).collect();
        let mut name = if services.len() == 1 {
            members[0].ctx.service.clone()
        } else {
            let kinds: Vec<String> = members[0]
                .objects
                .iter()
                .map(|o| o.id.kind.to_ascii_lowercase())
                .collect();
            read::dns_label(&kinds.join("-"))
        };
        if builtin.contains(&name) {
            name.push_str("-adopted");
        }
        let base = name.clone();
        let mut k = 2;
        while set_names.contains(&name) {
            name = format!("{base}-{k}");
            k += 1;
        }
        set_names.push(name.clone());
        let ctxs: Vec<Ctx> = members.iter().map(|m| m.ctx.clone()).collect();
        let mut holes: Vec<Hole> = Vec::new();
        let mut slots: Vec<(String, Tmpl)> = Vec::new();
        for j in 0..members[0].objects.len() {
            let nodes: Vec<&Node> = members.iter().map(|m| &m.objects[j].doc).collect();
            let kind = members[0].objects[j].id.kind.to_ascii_lowercase();
            let mut path = vec![kind.clone()];
            slots.push((kind, factor::unify(&nodes, &ctxs, &mut path, &mut holes)));
        }
        {
            let mut templates: Vec<&mut Tmpl> = slots.iter_mut().map(|(_, t)| t).collect();
            factor::merge_equal(&mut holes, &mut templates);
        }
        factor::name_holes(&mut holes, &reserved);
        secret_holes.extend(holes.iter().filter(|h| h.secret).map(|h| h.name.clone()));
        let mut used: Vec<String> = Vec::new();
        for (kind, t) in &slots {
            let mut file = format!("{kind}.yaml.j2");
            let mut k = 2;
            while used.contains(&file) {
                file = format!("{kind}-{k}.yaml.j2");
                k += 1;
            }
            used.push(file.clone());
            let text = factor::template_text(t, &holes)?;
            report.template_bytes += text.len();
            files.insert(format!("templates/{name}/{file}"), text);
        }
        if members.len() == 1 {
            report.verbatim += 1;
        }
        report.sets.push(SetReport {
            name: name.clone(),
            services: services.len(),
            instances: members.len(),
            objects: members[0].objects.len(),
            values: holes.len(),
            builtin: false,
        });
        if !fitted.is_empty() {
            // Declared, so that a built-in set's schema lets these keys of shared layers pass.
            let props: serde_json::Map<String, serde_json::Value> = holes
                .iter()
                .map(|h| (h.name.clone(), serde_json::json!({})))
                .chain(std::iter::once((
                    "template".to_string(),
                    serde_json::json!({}),
                )))
                .collect();
            let schema = serde_json::json!({"type": "object", "properties": props});
            files.insert(
                format!("templates/{name}/values.schema.json"),
                format!("{schema}\n"),
            );
        }
        for (i, m) in members.iter().enumerate() {
            let mut values = Map::default();
            let mut absent = BTreeSet::new();
            values.insert(
                "template".to_string(),
                Node::new(Value::Str(name.clone()), Loc::default()),
            );
            for h in &holes {
                match &h.values[i] {
                    Some(v) => {
                        values.insert(h.name.clone(), v.clone());
                    }
                    None => {
                        sparse.insert(h.name.clone());
                        absent.insert(h.name.clone());
                    }
                }
            }
            members_values.push(layer::Member {
                service: m.ctx.service.clone(),
                env: envs[m.env].name.clone(),
                values,
                absent,
            });
        }
    }
    builtin::add_fitted(
        &fitted,
        &envs,
        &mut members_values,
        &mut sparse,
        &mut report,
    );
    let env_names: Vec<String> = envs.iter().map(|e| e.name.clone()).collect();
    let mut layers = layer::layer(&members_values, &env_names, &sparse);
    builtin::prune(&mut layers, &fitted, &envs);
    // The `_env` values: in defaults when every folder has the same, else per folder.
    if let Some(f) = &env_fit {
        let mut keys: IndexMap<&str, ()> = IndexMap::new();
        for v in &f.values {
            keys.extend(v.keys().map(|k| (k.as_str(), ())));
        }
        for key in keys.keys() {
            let first = f.values[0].get(*key);
            let everywhere = first.is_some()
                && f.values
                    .iter()
                    .all(|v| v.get(*key).map(factor::plain) == first.map(factor::plain));
            for (e, v) in envs.iter().zip(&f.values) {
                if let Some(value) = v.get(*key) {
                    let layer = if everywhere {
                        &mut layers.defaults
                    } else {
                        layers.envs.entry(e.name.clone()).or_default()
                    };
                    layer.insert((*key).to_string(), value.clone());
                }
            }
        }
    }
    // Patches add up across layers: each instance's stay in its own file.
    for f in fitted.iter().filter(|f| !f.patches.is_empty()) {
        report.patches += f.patches.len();
        layers
            .service_envs
            .entry((f.service.clone(), envs[f.env].name.clone()))
            .or_default()
            .insert(
                "patches".into(),
                Node::new(Value::Seq(f.patches.clone()), Loc::default()),
            );
    }
    // A service missing from an environment is switched off there.
    let mut services: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for m in &members_values {
        services.entry(&m.service).or_default().push(&m.env);
    }
    for (s, present) in &services {
        layers.services.entry((*s).to_string()).or_default();
        for e in &env_names {
            if !present.contains(&e.as_str()) {
                layers
                    .service_envs
                    .entry(((*s).to_string(), e.clone()))
                    .or_default()
                    .insert(
                        "enabled".into(),
                        Node::new(Value::Bool(false), Loc::default()),
                    );
            }
        }
    }
    if !clusters::fold(&mut layers, &envs) {
        return Ok(None);
    }
    let mut proof = BTreeMap::new();
    write_values(&layers, &mut files, &mut proof, &mut report, &secret_holes)?;
    files.insert("kiln.yaml".into(), kiln);
    // The built-in `_env` set would add a Namespace to every environment (the input's own
    // Namespace, if any, is the service `namespace`) and the objects it derives from fitted
    // values (ingress-nginx port maps, team bindings): the input's own are factored.
    for (file, _) in crate::render::Templates::builtins() {
        if let Some(rest) = file.strip_prefix("_env/")
            && !env_fit
                .as_ref()
                .is_some_and(|f| f.with_ingress || envset::KEPT.contains(&rest))
        {
            files.insert(
                format!("templates/_env/{rest}"),
                "{# kiln adopt: nothing beyond the input's own objects (each is a service of this project). #}\n".into(),
            );
        }
    }
    report.digests = envs
        .iter()
        .flat_map(|e| &e.objects)
        .map(|o| count_digests(&o.doc))
        .sum();
    let expected = envs.into_iter().map(|e| (e.name, e.objects)).collect();
    Ok(Some(Adopted {
        files,
        proof,
        report,
        expected,
    }))
}

fn count_digests(n: &Node) -> usize {
    match &n.value {
        Value::Str(s) => usize::from(crate::secret::is_digest(s)),
        Value::Map(m) => m.values().map(count_digests).sum(),
        Value::Seq(s) => s.iter().map(count_digests).sum(),
        _ => 0,
    }
}

/// One values file's text.
fn values_text(values: &Map) -> Result<String, String> {
    if values.is_empty() {
        return Ok("{}\n".to_string());
    }
    let node = Node::new(Value::Map(fit::unflatten(values)), Loc::default());
    crate::yaml::emit(&node)
}

/// Whether a value must not sit in a plain values file: its key looks like a secret, or
/// `secret.rs` finds a secret inside it (a `{name: DB_PASSWORD, value}` variable, a URL
/// password, ...).
fn is_secret(key: &str, value: &Node, secret_holes: &BTreeSet<String>) -> bool {
    if matches!(
        value.value,
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_)
    ) {
        return false;
    }
    let last = key.rsplit(fit::SEP).next().unwrap_or(key);
    secret_holes.contains(key)
        || key.split(fit::SEP).next() == Some("secrets")
        || crate::secret::is_secret_key(last)
        || !crate::secret::secrets_in(value).is_empty()
}

fn write_values(
    layers: &layer::Layers,
    files: &mut BTreeMap<String, String>,
    proof: &mut BTreeMap<String, String>,
    report: &mut Report,
    secret_holes: &BTreeSet<String>,
) -> Result<(), String> {
    // Defaults, environments and services may have an encrypted twin (`x.sops.yaml`, merged
    // right after `x.yaml`): their secret values go there, in plaintext, for `sops encrypt`. A
    // service-in-environment file has no twin: its secret values stay and are reported.
    let mut put = |path: String, values: &Map, twin: bool| -> Result<(), String> {
        let (secret, plain): (Map, Map) = values
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .partition(|(k, v)| is_secret(k, v, secret_holes));
        let text = values_text(values)?;
        for k in secret.keys() {
            report
                .secret_values
                .push(format!("{path}: {}", k.replace(fit::SEP, ".")));
        }
        if twin && !secret.is_empty() {
            let sops = path.replace(".yaml", ".sops.yaml");
            report.secret_files.push(sops.clone());
            let plain_text = values_text(&plain)?;
            report.values_bytes += plain_text.len();
            report.values_lines += plain_text.lines().count();
            files.insert(path.clone(), plain_text);
            files.insert(
                sops.clone(),
                format!(
                    "# Written by `kiln adopt` IN PLAINTEXT: encrypt before committing,\n# sops encrypt --in-place {sops}\n{}",
                    values_text(&secret)?
                ),
            );
            proof.insert(path, text);
        } else {
            report.values_bytes += text.len();
            report.values_lines += text.lines().count();
            files.insert(path.clone(), text.clone());
            proof.insert(path, text);
        }
        Ok(())
    };
    put("values/defaults.yaml".into(), &layers.defaults, true)?;
    // A service is its `values/services/<s>.yaml`, written even when empty; the other files
    // only when they hold something (pruning may have emptied them).
    for (e, v) in layers.envs.iter().filter(|(_, v)| !v.is_empty()) {
        put(format!("values/envs/{e}.yaml"), v, true)?;
    }
    for (c, v) in layers.clusters.iter().filter(|(_, v)| !v.is_empty()) {
        put(format!("values/clusters/{c}.yaml"), v, false)?;
    }
    for (s, v) in &layers.services {
        put(format!("values/services/{s}.yaml"), v, true)?;
    }
    for ((s, e), v) in layers.service_envs.iter().filter(|(_, v)| !v.is_empty()) {
        put(format!("values/services/{s}.{e}.yaml"), v, false)?;
    }
    Ok(())
}
