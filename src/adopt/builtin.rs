//! Fitting the built-in sets in `kiln adopt`: candidates from [`super::fit`] rendered in a
//! trial project (by the caller's renderer: the real pipeline), kept when their objects equal
//! the input (with a few RFC 6902 patches at most), then layered like factored values (by key
//! path) and pruned where a set's own defaults already say the same.

use std::collections::{BTreeMap, BTreeSet};

use crate::yaml::Map;
use indexmap::IndexMap;

use super::read::{EnvInput, Object};
use super::{Report, SetReport, factor, fit, layer};
use crate::source::Loc;
use crate::yaml::{Node, Value};

/// What a trial render produced for one instance: its environment (index into the input's
/// environments), its name and its objects.
#[derive(Debug)]
pub struct Rendered {
    /// Environment name.
    pub env: String,
    /// Instance name.
    pub instance: String,
    /// The objects its templates rendered (patches applied).
    pub objects: Vec<Node>,
}

/// Renders a project given as files (path -> text) in memory, with each environment's `_env`
/// templates when the flag says so: `command::adopt` runs the real pipeline over it.
pub type Render<'a> = dyn Fn(&BTreeMap<String, String>, bool) -> Result<Vec<Rendered>, String> + 'a;

/// An instance fitted to a built-in set.
#[derive(Clone)]
pub struct Fitted {
    /// Index of its environment (input folder).
    pub env: usize,
    /// Service name.
    pub service: String,
    /// The input instances it renders (one, or a Eureka peer set's members).
    pub parts: Vec<String>,
    /// The built-in set.
    pub set: &'static str,
    /// Complete values.
    pub values: Node,
    /// The input objects it renders.
    pub covered: Vec<crate::manifest::ResourceId>,
    /// `patches:` entries for what the set renders differently (RFC 6902).
    pub patches: Vec<Node>,
    /// Its patches were rendered and the result equals the input.
    pub patched_ok: bool,
}

/// Try the built-in sets on every instance: read candidate values, render them all in one
/// trial project and keep the candidates whose objects equal the input.
pub fn fit(
    envs: &[EnvInput],
    kiln_yaml: &str,
    render: &Render<'_>,
    report: &mut Report,
) -> Vec<Fitted> {
    let mut tried: Vec<Fitted> = Vec::new();
    for (ei, e) in envs.iter().enumerate() {
        let mut instances: IndexMap<&str, Vec<&Object>> = IndexMap::new();
        for o in &e.objects {
            instances.entry(&o.instance).or_default().push(o);
        }
        let mut ctx = fit::EnvCtx {
            env: &e.env,
            namespace: &e.namespace,
            eureka_urls: None,
        };
        // The Eureka server first (its clients list its peers): an instance, or the instances
        // `<name>-<i>` of its `deployments` shape.
        let mut bases: Vec<&str> = instances.keys().copied().collect();
        for n in instances.keys() {
            if let Some((base, i)) = n.rsplit_once('-')
                && i.parse::<u8>().is_ok()
            {
                bases.push(base);
            }
        }
        let mut server: Vec<&str> = Vec::new();
        for base in bases {
            let parts: Vec<&str> = instances
                .keys()
                .copied()
                .filter(|n| {
                    *n == base
                        || n.strip_prefix(base)
                            .and_then(|r| r.strip_prefix('-'))
                            .is_some_and(|i| i.parse::<u8>().is_ok())
                })
                .collect();
            let objects: Vec<&Object> = parts.iter().flat_map(|p| instances[p].clone()).collect();
            if let Some((c, urls)) = fit::eureka(base, &objects, &ctx) {
                ctx.eureka_urls = Some(urls);
                tried.push(Fitted {
                    env: ei,
                    service: base.to_string(),
                    parts: parts.iter().map(|p| (*p).to_string()).collect(),
                    set: c.set,
                    values: c.values,
                    covered: Vec::new(),
                    patches: Vec::new(),
                    patched_ok: false,
                });
                server = parts;
                break;
            }
        }
        for (name, objects) in &instances {
            if server.contains(name) {
                continue;
            }
            if let Some(c) = fit::candidate(name, objects, &ctx) {
                tried.push(Fitted {
                    env: ei,
                    service: (*name).to_string(),
                    parts: vec![(*name).to_string()],
                    set: c.set,
                    values: c.values,
                    covered: Vec::new(),
                    patches: Vec::new(),
                    patched_ok: false,
                });
            }
        }
    }
    if tried.is_empty() {
        return tried;
    }
    // First the candidates as read, then the ones that fitted, with the patches the first
    // trial found (checked by rendering them: patches are exact by construction, but the
    // render is the proof).
    let (fitted, patched) = trial_by_env(tried, envs, kiln_yaml, render, report);
    if !patched {
        return fitted;
    }
    let exact: Vec<Fitted> = fitted
        .iter()
        .filter(|f| f.patches.is_empty())
        .cloned()
        .collect();
    let (mut again, _) = trial(fitted, envs, kiln_yaml, render, report);
    if report.fit_error.is_some() {
        return exact;
    }
    again.retain(|f| {
        let exact = f.patches.is_empty() || f.patched_ok;
        if !exact {
            report.unfitted += 1;
        }
        exact
    });
    again
}

/// [`trial`], and when the trial project does not render (one candidate the set refuses), a
/// trial per environment, so that the others still fit.
fn trial_by_env(
    tried: Vec<Fitted>,
    envs: &[EnvInput],
    kiln_yaml: &str,
    render: &Render<'_>,
    report: &mut Report,
) -> (Vec<Fitted>, bool) {
    let of_env: BTreeSet<usize> = tried.iter().map(|f| f.env).collect();
    if of_env.len() < 2 {
        return trial(tried, envs, kiln_yaml, render, report);
    }
    let (unfitted, error) = (report.unfitted, report.fit_error.clone());
    let (fitted, patched) = trial(tried.clone(), envs, kiln_yaml, render, report);
    if report.fit_error == error {
        return (fitted, patched);
    }
    report.unfitted = unfitted;
    report.fit_error = error;
    let mut out = (Vec::new(), false);
    let mut failed: Vec<&str> = Vec::new();
    for e in of_env {
        let part: Vec<Fitted> = tried.iter().filter(|f| f.env == e).cloned().collect();
        let before = report.fit_error.clone();
        let (fitted, patched) = trial(part, envs, kiln_yaml, render, report);
        if report.fit_error != before {
            failed.push(&envs[e].name);
            report.fit_error.clone_from(&before);
        }
        out.0.extend(fitted);
        out.1 |= patched;
    }
    if !failed.is_empty() {
        report.fit_error = Some(format!(
            "the built-in sets' trial project does not render in {}",
            failed.join(", ")
        ));
    }
    (out.0, out.1)
}

/// Render the candidates in one trial project and keep those that fit (with patches where
/// they have a few differences); whether any needed new patches.
fn trial(
    tried: Vec<Fitted>,
    envs: &[EnvInput],
    kiln_yaml: &str,
    render: &Render<'_>,
    report: &mut Report,
) -> (Vec<Fitted>, bool) {
    let mut files = BTreeMap::new();
    files.insert("kiln.yaml".to_string(), kiln_yaml.to_string());
    files.insert("values/defaults.yaml".to_string(), "{}\n".to_string());
    for f in &tried {
        // Every folder is the environment `t<i>` of the trial: the Spring profile, which
        // defaults to the environment's name, is given as the real one.
        let profiles = f.values.get("springProfiles");
        let profiles = profiles
            .filter(|p| p.value == Value::Str(String::new()))
            .map(|_| Node::new(Value::Str(envs[f.env].env.clone()), Loc::default()));
        files.insert(
            format!("values/services/{}.yaml", f.service),
            "enabled: false\n".to_string(),
        );
        let mut v = f.values.clone();
        if let Value::Map(m) = &mut v.value {
            m.insert(
                "enabled".into(),
                Node::new(Value::Bool(true), Loc::default()),
            );
            if let Some(p) = profiles {
                m.insert("springProfiles".into(), p);
            }
            if !f.patches.is_empty() {
                m.insert(
                    "patches".into(),
                    Node::new(Value::Seq(f.patches.clone()), Loc::default()),
                );
            }
        }
        let Ok(text) = crate::yaml::emit(&v) else {
            continue;
        };
        files.insert(
            format!("values/services/{}.t{}.yaml", f.service, f.env),
            text,
        );
    }
    let rendered = match render(&files, false) {
        Ok(r) => r,
        Err(e) => {
            report.fit_error = Some(e);
            report.unfitted += tried.len();
            return (Vec::new(), false);
        }
    };
    let mut by: BTreeMap<(&str, &str), &Vec<Node>> = BTreeMap::new();
    for r in &rendered {
        by.insert((&r.env, &r.instance), &r.objects);
    }
    let mut out = Vec::new();
    let mut failed_servers: BTreeSet<usize> = BTreeSet::new();
    let mut any_new = false;
    for mut f in tried {
        let e = &envs[f.env];
        let input: Vec<&Object> = e
            .objects
            .iter()
            .filter(|o| f.parts.contains(&o.instance))
            .collect();
        let trial_env = format!("t{}", f.env);
        let got = by.get(&(trial_env.as_str(), f.service.as_str()));
        match got.and_then(|objects| super::patch::compare(objects, &input)) {
            Some((covered, patches)) if !covered.is_empty() => {
                f.covered = covered;
                f.patched_ok = !f.patches.is_empty() && patches.is_empty();
                if f.patches.is_empty() && !patches.is_empty() {
                    f.patches = patches;
                    any_new = true;
                }
                out.push(f);
            }
            _ => {
                if f.set == fit::EUREKA {
                    failed_servers.insert(f.env);
                }
                report.unfitted += 1;
            }
        }
    }
    // Clients of a Eureka server that did not fit would list no peers: factored too.
    out.retain(|f| {
        let keep = !failed_servers.contains(&f.env) || !uses_eureka(&f.values);
        if !keep {
            report.unfitted += 1;
        }
        keep
    });
    (out, any_new)
}

fn uses_eureka(values: &Node) -> bool {
    values
        .get("eureka")
        .and_then(|e| e.get("client"))
        .and_then(|c| c.get("enabled"))
        .is_some_and(|b| b.value == Value::Bool(true))
}

/// The fitted instances as layering members (flattened values) and in the report. A key path a
/// member lacks is absent for it (no layer may give it one) when another member of its set has
/// it, its set's schema would reject it, or its set's templates read it (see [`super::keys::reads`]);
/// other sets' keys may reach it from a shared layer, unread.
pub fn add_fitted(
    fitted: &[Fitted],
    envs: &[EnvInput],
    members: &mut Vec<layer::Member>,
    sparse: &mut BTreeSet<String>,
    report: &mut Report,
) {
    let flat: Vec<Map> = fitted.iter().map(|f| fit::flatten(&f.values)).collect();
    // A service factored in some environments and fitted in others: the factored values must
    // not reach its fitted instances (their set's schema refuses unknown keys outside shared
    // layers), nor its fitted `expose` the factored ones (kiln routes the ports of every
    // instance's `expose`, whatever its set; factored templates read no other fitted key).
    let mut factored_keys: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in members.iter() {
        factored_keys
            .entry(m.service.clone())
            .or_default()
            .extend(m.values.keys().filter(|k| *k != "template").cloned());
    }
    let mut fitted_keys: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (f, v) in fitted.iter().zip(&flat) {
        if factored_keys.contains_key(&f.service) {
            fitted_keys.entry(f.service.as_str()).or_default().extend(
                v.keys()
                    .map(String::as_str)
                    .filter(|k| k.split(fit::SEP).next() == Some("expose")),
            );
        }
    }
    for m in members.iter_mut() {
        if let Some(theirs) = fitted_keys.get(m.service.as_str()) {
            for k in theirs {
                if !m.values.contains_key(*k) {
                    m.absent.insert((*k).to_string());
                    sparse.insert((*k).to_string());
                }
            }
        }
    }
    let mut keys: BTreeSet<&str> = BTreeSet::new();
    for v in &flat {
        keys.extend(v.keys().map(String::as_str));
    }
    // Key paths some member of each set has.
    let mut own: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (f, values) in fitted.iter().zip(&flat) {
        own.entry(f.set)
            .or_default()
            .extend(values.keys().map(String::as_str));
    }
    let mut rejected: BTreeMap<(&str, &str), bool> = BTreeMap::new();
    for (f, values) in fitted.iter().zip(&flat) {
        let mut absent: BTreeSet<String> = keys
            .iter()
            .filter(|k| {
                !values.contains_key(**k)
                    && (own[f.set].contains(**k)
                        || *rejected.entry((f.set, **k)).or_insert_with(|| {
                            super::keys::rejects(f.set, k) || super::keys::reads(f.set, k)
                        }))
            })
            .map(|k| (*k).to_string())
            .collect();
        if let Some(theirs) = factored_keys.get(&f.service) {
            absent.extend(theirs.iter().cloned());
        }
        sparse.extend(absent.iter().cloned());
        members.push(layer::Member {
            service: f.service.clone(),
            env: envs[f.env].name.clone(),
            values: values.clone(),
            absent,
        });
    }
    for set in own.keys() {
        let of: Vec<(&Fitted, &Map)> = fitted
            .iter()
            .zip(&flat)
            .filter(|(f, _)| f.set == *set)
            .collect();
        let services: BTreeSet<&str> = of.iter().map(|(f, _)| f.service.as_str()).collect();
        let values: BTreeSet<&str> = of
            .iter()
            .flat_map(|(_, v)| v.keys().map(String::as_str))
            .collect();
        report.sets.push(SetReport {
            name: (*set).to_string(),
            services: services.len(),
            instances: of.len(),
            objects: of.iter().map(|(f, _)| f.covered.len()).max().unwrap_or(0),
            values: values.len(),
            builtin: true,
        });
    }
}

/// Take out of the layers every fitted value its readers would get anyway: for each value, the
/// fitted instances that read it there (no higher layer sets it, and their set reads the key or
/// they have it) all get the same from the layers below or from their set's own defaults.
/// Each removal keeps every instance's values, so the layers are pruned lowest first.
pub fn prune(layers: &mut layer::Layers, fitted: &[Fitted], envs: &[EnvInput]) {
    if fitted.is_empty() {
        return;
    }
    let flat: Vec<Map> = fitted.iter().map(|f| fit::flatten(&f.values)).collect();
    let mut set_defaults: BTreeMap<&str, Map> = BTreeMap::new();
    for f in fitted {
        set_defaults.entry(f.set).or_insert_with(|| {
            super::keys::set_defaults(f.set)
                .map(|d| fit::flatten(&d))
                .unwrap_or_default()
        });
    }
    let targets: Vec<&str> = fitted.iter().map(|f| envs[f.env].name.as_str()).collect();
    let mut by_target: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut by_service: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, f) in fitted.iter().enumerate() {
        by_target.entry(targets[i]).or_default().push(i);
        by_service.entry(&f.service).or_default().push(i);
    }
    let all: Vec<usize> = (0..fitted.len()).collect();
    let mut reads: BTreeMap<(&str, String), bool> = BTreeMap::new();
    let same = |a: &Node, b: &Node| factor::plain(a) == factor::plain(b);
    // Layer levels: 0 defaults, 1 environment, 2 service, 3 service in environment.
    for level in 0..4 {
        let mut files: Vec<(String, String)> = Vec::new();
        match level {
            0 => files.push((String::new(), String::new())),
            1 => files.extend(layers.envs.keys().map(|t| (String::new(), t.clone()))),
            2 => files.extend(layers.services.keys().map(|s| (s.clone(), String::new()))),
            _ => files.extend(layers.service_envs.keys().cloned()),
        }
        for (service, target) in files {
            let keys: Vec<String> = match level {
                0 => layers.defaults.keys().cloned().collect(),
                1 => layers.envs[&target].keys().cloned().collect(),
                2 => layers.services[&service].keys().cloned().collect(),
                _ => layers.service_envs[&(service.clone(), target.clone())]
                    .keys()
                    .cloned()
                    .collect(),
            };
            for key in keys {
                let value = match level {
                    0 => &layers.defaults[&key],
                    1 => &layers.envs[&target][&key],
                    2 => &layers.services[&service][&key],
                    _ => &layers.service_envs[&(service.clone(), target.clone())][&key],
                }
                .clone();
                let mut readers = 0;
                let mut keep = false;
                let scope = match level {
                    0 => &all,
                    1 => by_target.get(target.as_str()).unwrap_or(&all),
                    _ => by_service.get(service.as_str()).unwrap_or(&all),
                };
                for &i in scope {
                    let (f, t) = (&fitted[i], targets[i]);
                    if (level == 1 && t != target)
                        || (level >= 2 && f.service != service)
                        || (level == 3 && t != target)
                    {
                        continue;
                    }
                    let at = |l: usize| -> Option<&Node> {
                        match l {
                            0 => layers.defaults.get(&key),
                            1 => layers.envs.get(t).and_then(|m| m.get(&key)),
                            2 => layers.services.get(&f.service).and_then(|m| m.get(&key)),
                            _ => layers
                                .service_envs
                                .get(&(f.service.clone(), t.to_string()))
                                .and_then(|m| m.get(&key)),
                        }
                    };
                    if (level + 1..4).any(|l| at(l).is_some()) {
                        continue;
                    }
                    let reader = flat[i].contains_key(&key)
                        || *reads
                            .entry((f.set, key.clone()))
                            .or_insert_with(|| super::keys::reads(f.set, &key));
                    if !reader {
                        continue;
                    }
                    readers += 1;
                    let below = (0..level)
                        .rev()
                        .find_map(at)
                        .or_else(|| set_defaults[f.set].get(&key));
                    if !below.is_some_and(|b| same(b, &value)) {
                        keep = true;
                        break;
                    }
                }
                if readers > 0 && !keep {
                    match level {
                        0 => layers.defaults.shift_remove(&key),
                        1 => layers
                            .envs
                            .get_mut(&target)
                            .and_then(|m| m.shift_remove(&key)),
                        2 => layers
                            .services
                            .get_mut(&service)
                            .and_then(|m| m.shift_remove(&key)),
                        _ => layers
                            .service_envs
                            .get_mut(&(service.clone(), target.clone()))
                            .and_then(|m| m.shift_remove(&key)),
                    };
                }
            }
        }
    }
}

/// The `_env` set fitted in every input folder: each folder's environment values (flattened
/// key paths) and the objects its templates render there.
#[derive(Debug)]
pub struct EnvFit {
    /// Per input folder.
    pub values: Vec<Map>,
    /// Per input folder.
    pub covered: Vec<Vec<crate::manifest::ResourceId>>,
    /// Whether ingress-nginx is part of it (else its templates are off).
    pub with_ingress: bool,
}

/// Fit the built-in `_env` set ([`super::envset`]): rendered with the project's own
/// `kiln.yaml` (its environments and clusters) and kept only when every folder's `_env`
/// objects equal the input exactly; first with ingress-nginx, then without it (its templates
/// off, its objects factored).
pub fn fit_env(
    envs: &[EnvInput],
    kiln_yaml: &str,
    render: &Render<'_>,
    fitted: &[Fitted],
) -> Option<EnvFit> {
    let taken: BTreeSet<(usize, &crate::manifest::ResourceId)> = fitted
        .iter()
        .flat_map(|f| f.covered.iter().map(move |id| (f.env, id)))
        .collect();
    let exposed = |ei: usize| -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for f in fitted.iter().filter(|f| f.env == ei) {
            for protocol in ["tcp", "udp"] {
                let entries = f.values.get("expose").and_then(|x| x.get(protocol));
                for entry in fit::seq(entries) {
                    if let Some(Value::Int(p)) = entry.get("port").map(|n| &n.value) {
                        out.push((
                            protocol.to_string(),
                            p.to_string(),
                            format!("{}/{}:{p}", envs[ei].namespace, f.service),
                        ));
                    }
                }
            }
        }
        out
    };
    let c = super::envset::candidate(envs, &|e, id| taken.contains(&(e, id)), &exposed)?;
    env_trial(envs, kiln_yaml, render, fitted, &taken, &c, true)
        .or_else(|| env_trial(envs, kiln_yaml, render, fitted, &taken, &c, false))
}

/// One trial of the `_env` candidate, with or without ingress-nginx.
fn env_trial(
    envs: &[EnvInput],
    kiln_yaml: &str,
    render: &Render<'_>,
    fitted: &[Fitted],
    taken: &BTreeSet<(usize, &crate::manifest::ResourceId)>,
    c: &super::envset::Candidate,
    with_ingress: bool,
) -> Option<EnvFit> {
    let per_folder: Vec<Node> = c
        .namespace
        .iter()
        .zip(&c.ingress)
        .map(|(n, i)| {
            let mut v = n.clone();
            if with_ingress {
                crate::values::merge::merge(&mut v, i);
            }
            v
        })
        .collect();
    let mut files = BTreeMap::new();
    files.insert("kiln.yaml".to_string(), kiln_yaml.to_string());
    let mut defaults = Node::new(Value::Map(Map::default()), Loc::default());
    if let Value::Map(m) = &mut defaults.value {
        m.insert("teams".into(), c.teams.clone());
    }
    files.insert(
        "values/defaults.yaml".into(),
        crate::yaml::emit(&defaults).ok()?,
    );
    for (e, v) in envs.iter().zip(&per_folder) {
        let path = match &e.cluster {
            Some(cl) => format!("values/clusters/{cl}.yaml"),
            None => format!("values/envs/{}.yaml", e.env),
        };
        files.insert(path, crate::yaml::emit(v).ok()?);
    }
    if with_ingress {
        // The ports services expose reach `_env` through their values: stand-ins that render
        // nothing carry them.
        files.insert("templates/adopt-trial/none.yaml.j2".into(), String::new());
        for f in fitted.iter().filter(|f| f.values.get("expose").is_some()) {
            let mut stand_in = Node::new(Value::Map(Map::default()), Loc::default());
            if let Value::Map(m) = &mut stand_in.value {
                m.insert(
                    "template".into(),
                    Node::new(Value::Str("adopt-trial".into()), Loc::default()),
                );
                m.insert(
                    "enabled".into(),
                    Node::new(Value::Bool(true), Loc::default()),
                );
                m.insert("expose".into(), f.values.get("expose")?.clone());
            }
            files.insert(
                format!("values/services/{}.yaml", f.service),
                "enabled: false\n".into(),
            );
            files
                .entry(format!(
                    "values/services/{}.{}.yaml",
                    f.service, envs[f.env].env
                ))
                .or_insert(crate::yaml::emit(&stand_in).ok()?);
        }
    } else {
        for (file, _) in crate::render::Templates::builtins() {
            if let Some(rest) = file.strip_prefix("_env/")
                && !super::envset::KEPT.contains(&rest)
            {
                files.insert(format!("templates/{file}"), String::new());
            }
        }
    }
    let rendered = render(&files, true).ok()?;
    let mut out = EnvFit {
        values: Vec::new(),
        covered: Vec::new(),
        with_ingress,
    };
    for (ei, e) in envs.iter().enumerate() {
        let objects = &rendered
            .iter()
            .find(|r| r.env == e.name && r.instance == "_env")?
            .objects;
        let free: Vec<&Object> = e
            .objects
            .iter()
            .filter(|o| !taken.contains(&(ei, &o.id)))
            .collect();
        let (covered, patches) = super::patch::compare(objects, &free)?;
        if !patches.is_empty() {
            return None;
        }
        let mut values = fit::flatten(&per_folder[ei]);
        values.insert("teams".into(), c.teams.clone());
        out.values.push(values);
        out.covered.push(covered);
    }
    Some(out)
}
