//! The commands, and the render pipeline they share.
//!
//! `cli -> config -> values -> render -> manifest`: [`Pipeline::run`] takes the parsed flags and
//! returns the rendered manifests; each command then writes, prints or checks them.

pub mod adopt;
pub mod baseline;
pub mod check;
pub mod convert;
pub mod diff;
pub mod explain;
pub mod golden;
pub mod init;
pub mod kubeconfig;
pub mod lint;
pub mod render;
pub mod schema;
pub mod schemas;
pub mod set;
pub mod templates;
pub mod values;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cli::{Cli, Command, ValueArgs};
use crate::config::Project;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::error::Error;
use crate::manifest::{self, Manifest, ResourceId};
use crate::render::{self as engine, FileResult, Templates};
use crate::source::Sources;
use crate::values::schema::SetSchemas;
use crate::values::{self as layers, Instance, Overrides, ValuesTree};
use crate::yaml::Node;

/// What a render's `finish` made of one file, boxed (see [`Pipeline::render_only`]).
type Payload = Box<dyn std::any::Any + Send>;

/// What a command produced for standard output.
#[derive(Debug, Default)]
pub struct Output {
    /// Text for standard output.
    pub stdout: String,
    /// Exit code when the command succeeded (0, or 1 for findings).
    pub code: u8,
    /// Text for standard error: what a successful command reports beside its output (written
    /// before it).
    pub stderr: String,
}

/// Leave a command's large state (a fleet's values, trees and findings) for the process's exit
/// to take back: kiln runs one command, and freeing millions of small allocations one by one, then
/// handing the pages back to the system, took a tenth of a 1,000-service `check` (README,
/// Performance).
pub(crate) fn free_at_exit<T>(state: T) {
    std::mem::forget(state);
}

/// Run the parsed command (its paths already taken from `-C DIR`, see [`crate::cli::parse`]).
pub fn run(cli: &Cli, color: bool) -> Result<Output, Error> {
    let dir = cli.directory.clone().unwrap_or_else(|| PathBuf::from("."));
    match &cli.command {
        Command::Render(args) => render::run(&dir, args),
        Command::Schema(args) => schema::run(&dir, args),
        Command::Templates(cmd) => templates::run(&dir, cmd),
        Command::Lint(args) => lint::run(&dir, args),
        Command::Diff(args) => diff::run(&dir, args, color),
        Command::Golden(cmd) => golden::run(&dir, cmd),
        Command::Kubeconfig(args) => kubeconfig::run(&dir, args),
        Command::Init(args) => init::run(&dir, args),
        Command::Explain(args) => explain::run(args),
        Command::Completions(args) => {
            let mut out = Vec::new();
            clap_complete::generate(
                args.shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "kiln",
                &mut out,
            );
            Ok(Output {
                stdout: String::from_utf8_lossy(&out).into_owned(),
                code: 0,
                stderr: String::new(),
            })
        }
        Command::Convert(args) => convert::run(args),
        Command::Adopt(args) => adopt::run(args),
        Command::Schemas(cmd) => schemas::run(&dir, cmd),
        Command::Check(args) => check::run(&dir, args),
        Command::Set(args) => set::run(&dir, args),
        Command::Values(args) => values::run(&dir, args),
    }
}

/// A loaded project ready to render.
pub struct Pipeline {
    /// The project.
    pub project: Project,
    /// Every source read.
    pub sources: Sources,
    /// Values files.
    pub tree: ValuesTree,
    /// `-f`/`--set`.
    pub overrides: Overrides,
    /// Templates (project over built-in).
    pub templates: Arc<Templates>,
    /// Each template set's own `defaults.yaml`, parsed.
    pub set_defaults: HashMap<String, Node>,
    /// Each template set's `values.schema.json`, compiled.
    pub schemas: SetSchemas,
    /// Whether environments that share a cluster are checked for objects and node ports they
    /// would both take (off for the old side of `diff --against git:REF`, which is only read).
    pub check_shared_clusters: bool,
    /// How many files a worker renders before the caller's `finish` runs on each of them.
    /// 1 finishes a file (writes its text) while its trees are still in the processor's cache;
    /// `kiln check` takes [`CHECK_BATCH`], as its checks are a large body of code of their own:
    /// rendering a few files and then checking them took 7% less CPU, most likely by keeping
    /// each body of code in the processor's instruction cache (README, Performance).
    pub batch: usize,
}

/// [`Pipeline::batch`] for `kiln check`.
pub const CHECK_BATCH: usize = 8;

impl Pipeline {
    /// Load the project at or above `dir` with the command line's value flags.
    pub fn load(dir: &Path, value_args: &ValueArgs) -> Result<Pipeline, Error> {
        let mut sources = Sources::default();
        let project = Project::discover(dir, &mut sources)?;
        // A write a killed run left half done (the folder renamed aside) is repaired before
        // anything can fail, whatever the command.
        crate::output::recover(&project.out_dir)?;
        crate::output::recover(&project.golden_dir)?;
        let overrides =
            layers::overrides(&value_args.values_files, &value_args.sets, &mut sources)?;
        let tree = ValuesTree::load(&project, &mut sources)?;
        let shown = project.relative(&project.templates_dir);
        let templates = Arc::new(Templates::load(Some(&project.templates_dir), &shown)?);
        let mut set_defaults = HashMap::new();
        let mut problems = Vec::new();
        for set in templates.sets() {
            if let Some(file) = templates.set_data(set, "defaults.yaml") {
                let src = sources.add(file.shown_as.clone(), file.source.to_string());
                match layers::parse_layer(src, &sources) {
                    Ok(node) => {
                        set_defaults.insert(set.to_string(), node);
                    }
                    Err(d) => problems.push(d),
                }
            }
        }
        if !problems.is_empty() {
            return Err(Error::Project(problems));
        }
        let schemas = SetSchemas::load(templates.sets().into_iter().filter_map(|set| {
            let file = templates.set_data(set, crate::values::schema::FILE)?;
            Some((
                set,
                file.shown_as.as_str(),
                &*file.source,
                file.from_project,
            ))
        }))
        .map_err(Error::Project)?;
        Ok(Pipeline {
            project,
            sources,
            tree,
            overrides,
            templates,
            set_defaults,
            schemas,
            check_shared_clusters: true,
            batch: 1,
        })
    }

    /// Indices of the selected environments (all when `names` is empty); an environment on
    /// several clusters is selected on each of them.
    pub fn select_envs(&self, names: &[String]) -> Result<Vec<usize>, Error> {
        self.select_targets(names, &[])
    }

    /// The one render target of environment `env` (on `cluster` when given); an environment on
    /// several clusters without `--cluster` is an error whose help is `pick_one` with the first
    /// cluster's name in place of `{}`.
    ///
    /// # Errors
    /// An unknown environment or cluster, or no single target.
    pub fn one_target(
        &self,
        env: &str,
        cluster: Option<&str>,
        pick_one: &str,
    ) -> Result<usize, Error> {
        let clusters: Vec<String> = cluster.iter().map(ToString::to_string).collect();
        let targets = self.select_targets(&[env.to_string()], &clusters)?;
        match targets.as_slice() {
            [one] => Ok(*one),
            many => {
                let on: Vec<&str> = many
                    .iter()
                    .filter_map(|t| self.project.environments[*t].cluster.as_deref())
                    .collect();
                Err(Error::Run(
                    Diagnostic::error(format!(
                        "environment `{env}` is on {} clusters: {}",
                        on.len(),
                        on.join(", ")
                    ))
                    .help(pick_one.replace("{}", on.first().copied().unwrap_or_default())),
                ))
            }
        }
    }

    /// Indices of the environments selected by `--env` and `--cluster` (each empty: all), each
    /// environment once per cluster it is on.
    pub fn select_targets(
        &self,
        names: &[String],
        clusters: &[String],
    ) -> Result<Vec<usize>, Error> {
        for n in names {
            self.project.environment(n)?;
        }
        let known = self.project.cluster_names();
        for c in clusters {
            if !known.contains(&c.as_str()) {
                return Err(self.project.unknown_cluster(c, "--cluster"));
            }
        }
        let out: Vec<usize> = self
            .project
            .environments
            .iter()
            .enumerate()
            .filter(|(_, e)| names.is_empty() || names.contains(&e.name))
            .filter(|(_, e)| {
                clusters.is_empty() || e.cluster.as_ref().is_some_and(|c| clusters.contains(c))
            })
            .map(|(i, _)| i)
            .collect();
        if out.is_empty() {
            return Err(Error::Run(
                Diagnostic::error(format!(
                    "no environment is on cluster {} among the selected ones",
                    clusters.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
                ))
                .help("`kiln.yaml` says which cluster each environment is on (`cluster:` / `clusters:`)"),
            ));
        }
        Ok(out)
    }

    /// Every instance in the selected environments, filtered by service or instance names.
    pub fn instances(&self, envs: &[usize], services: &[String]) -> Result<Vec<Instance>, Error> {
        let defaults = |set: &str| self.set_defaults.get(set).cloned();
        let all = layers::instances(
            &self.project,
            &self.tree,
            &self.overrides,
            envs,
            &defaults,
            &self.sources,
        )?;
        if services.is_empty() {
            return Ok(all);
        }
        for s in services {
            if !self.tree.services.contains_key(s) && !all.iter().any(|i| &i.name == s) {
                let names = self.tree.services.keys().map(String::as_str);
                let mut d = Diagnostic::error(format!("unknown service `{s}`"));
                d = match did_you_mean(s, names.clone()) {
                    Some(m) => d.help(format!("did you mean `{m}`?")),
                    None => d.help(format!(
                        "services are the files in values/services/: {}",
                        names.collect::<Vec<_>>().join(", ")
                    )),
                };
                return Err(Error::Run(d));
            }
        }
        Ok(all
            .into_iter()
            .filter(|i| services.contains(&i.service) || services.contains(&i.name))
            .collect())
    }

    /// The ingress-nginx controllers the environments `envs` render on the node network on
    /// purpose (`ingressNginx.controller.enabled`), by identity, for the `host-network` rule.
    pub fn host_network_objects(&self, envs: &[usize]) -> Result<Vec<ResourceId>, Error> {
        let mut out = Vec::new();
        for e in envs {
            let env = &self.project.environments[*e];
            let v = self
                .tree
                .merged(env, None, None, None, &self.overrides)
                .map_err(|(m, at)| {
                    Error::Run(Diagnostic::error(m).at(&self.sources, at, "set here"))
                })?;
            out.extend(engine::platform::ingress_controller(env, &v));
        }
        Ok(out)
    }

    /// Render the selected environments; `with_env_level` adds each environment's `_env`
    /// templates.
    pub fn render<T: Send + 'static>(
        &self,
        envs: &[usize],
        instances: &[Instance],
        with_env_level: bool,
        finish: &(dyn Fn(&[Manifest]) -> Result<T, Diagnostic> + Sync),
    ) -> Result<Vec<FileResult<T>>, Error> {
        self.render_only(envs, instances, with_env_level, None, finish)
    }

    /// Like [`Pipeline::render`], but only the files of the services in `only` (and the `_env`
    /// files, which still see every instance) are rendered.
    pub fn render_only<T: Send + 'static>(
        &self,
        envs: &[usize],
        instances: &[Instance],
        with_env_level: bool,
        only: Option<&std::collections::HashSet<String>>,
        finish: &(dyn Fn(&[Manifest]) -> Result<T, Diagnostic> + Sync),
    ) -> Result<Vec<FileResult<T>>, Error> {
        // The render is compiled once, for a boxed payload, not once per payload type (seven
        // copies of it and of `render_all` were a tenth of the crate's code to optimise).
        let boxed = |ms: &[Manifest]| finish(ms).map(|t| Box::new(t) as Payload);
        let files = self.render_boxed(envs, instances, with_env_level, only, &boxed)?;
        files
            .into_iter()
            .map(|f| match f.payload.downcast::<T>() {
                Ok(payload) => Ok(FileResult {
                    path: f.path,
                    env: f.env,
                    ids: f.ids,
                    payload: *payload,
                }),
                // Cannot happen: every payload was made by `boxed` above.
                Err(_) => Err(Error::Run(
                    Diagnostic::error(format!(
                        "internal error: kiln lost track of what it rendered for `{}`",
                        f.path
                    ))
                    .help("this is a bug in kiln: please report it with the command you ran"),
                )),
            })
            .collect()
    }

    fn render_boxed(
        &self,
        envs: &[usize],
        instances: &[Instance],
        with_env_level: bool,
        only: Option<&std::collections::HashSet<String>>,
        finish: &(dyn Fn(&[Manifest]) -> Result<Payload, Diagnostic> + Sync),
    ) -> Result<Vec<FileResult<Payload>>, Error> {
        // Values are checked against their set's schema before anything renders, so a wrong
        // type is reported where it was written, not as a confusing template error. The layers
        // every instance gets (defaults, environments, `-f`, `--set`) may hold keys meant for
        // another set's instances.
        let shared: std::collections::HashSet<crate::source::SrcId> = self
            .tree
            .defaults
            .iter()
            .chain(self.tree.envs.values())
            .chain(self.tree.clusters.values())
            .chain(&self.overrides.files)
            .flat_map(|n| self.tree.sources_of(n))
            .chain(self.overrides.sets.iter().map(|s| s.src))
            .collect();
        let chosen: Vec<&Instance> = instances
            .iter()
            .filter(|i| only.is_none_or(|o| o.contains(&i.service)))
            .collect();
        let problems: Vec<Diagnostic> = crate::par::map(&chosen, |i| {
            self.schemas.check(
                i,
                &self.project.environments[i.env].name,
                &self.sources,
                &shared,
            )
        })
        .into_iter()
        .flatten()
        .collect();
        if !problems.is_empty() {
            return Err(Error::Project(layers::dedup(problems)));
        }
        let jenv = engine::environment(&self.templates);
        engine::check_templates(&jenv, &self.templates)?;
        let mut env_values = HashMap::new();
        if with_env_level {
            for e in envs {
                let mut v = self
                    .tree
                    .merged(
                        &self.project.environments[*e],
                        None,
                        None,
                        None,
                        &self.overrides,
                    )
                    .map_err(|(m, at)| {
                        Error::Run(Diagnostic::error(m).at(&self.sources, at, "set here"))
                    })?;
                // Patches are for each instance's objects; `_env` templates do not see them.
                if let crate::yaml::Value::Map(m) = &mut v.value {
                    m.shift_remove("patches");
                }
                env_values.insert(*e, v);
            }
        }
        // The Eureka member list of each environment, computed once from all its instances (a
        // `--service` filter must not hide the peer set from its clients).
        let all_instances;
        let everything = if instances.len() < self.tree.services.len() * envs.len() {
            all_instances = self.instances(envs, &[])?;
            &all_instances
        } else {
            instances
        };
        let mut computed = HashMap::new();
        let mut problems = Vec::new();
        for e in envs {
            let env = &self.project.environments[*e];
            let in_env: Vec<&Instance> = everything.iter().filter(|i| i.env == *e).collect();
            let eureka = match engine::platform::eureka_context(env, &in_env) {
                Ok(v) => v,
                Err(d) => {
                    problems.push(d);
                    continue;
                }
            };
            // The ports routed through the environment's ingress-nginx controller, for `_env`.
            let ingress = match env_values.get(e) {
                Some(v) => {
                    match engine::platform::ingress_context(env, v, &in_env, &self.sources) {
                        Ok(i) => i,
                        Err(d) => {
                            problems.push(d);
                            continue;
                        }
                    }
                }
                None => minijinja::Value::UNDEFINED,
            };
            computed.insert(
                *e,
                minijinja::context! { eureka => eureka, ingress => ingress },
            );
        }
        if !problems.is_empty() {
            // An environment on two clusters reports a problem of its values once.
            return Err(Error::Project(layers::dedup(problems)));
        }
        let extra = |e: usize| computed.get(&e).cloned().unwrap_or_default();
        let (files, ports) = engine::render_all(
            &jenv,
            &self.templates,
            &self.project.environments,
            instances,
            &env_values,
            &extra,
            only,
            &self.sources,
            self.batch,
            finish,
        )?;
        if self.check_shared_clusters {
            let problems = engine::shared_cluster(&self.project.environments, &files, ports);
            if !problems.is_empty() {
                return Err(Error::Project(problems));
            }
        }
        Ok(files)
    }
}

impl Pipeline {
    /// The ApplySet parent of environment `e`, when ApplySets are on.
    #[must_use]
    pub fn applyset_parent(&self, e: usize) -> Option<crate::config::ApplySetParent> {
        self.project
            .applyset_parent(self.project.environments.get(e)?)
    }

    /// One file's manifests in golden form (see [`manifest::golden`]); borrowed as they are when
    /// that changes nothing (no Secret, no ApplySet), which is most files.
    pub fn golden_form<'m>(
        &self,
        manifests: &'m [Manifest],
    ) -> Result<std::borrow::Cow<'m, [Manifest]>, Diagnostic> {
        let parent = manifests.first().and_then(|m| {
            let e = self
                .project
                .environments
                .iter()
                .position(|e| e.folder == m.origin.env)?;
            self.applyset_parent(e)
        });
        if parent.is_none()
            && !manifests.iter().any(|m| {
                crate::secret::is_secret_object(&m.doc) || crate::secret::has_other_secrets(&m.doc)
            })
        {
            return Ok(std::borrow::Cow::Borrowed(manifests));
        }
        manifest::golden::form(manifests, parent.as_ref())
            .map(std::borrow::Cow::Owned)
            .map_err(Diagnostic::error)
    }

    /// The ApplySet parent file (`<folder>/_applyset.yaml`) of every render target in `files`, with
    /// every object of those files as members: call it only with whole environments.
    #[must_use]
    pub fn parent_files<T>(&self, files: &[FileResult<T>]) -> Vec<FileResult<Vec<Manifest>>> {
        let mut envs: Vec<usize> = files.iter().map(|f| f.env).collect();
        envs.dedup();
        envs.into_iter()
            .filter_map(|e| {
                let parent = self.applyset_parent(e)?;
                let env = &self.project.environments[e].folder;
                let members = files
                    .iter()
                    .filter(|f| f.env == e)
                    .flat_map(|f| f.ids.iter().map(|(id, _)| id));
                let m = manifest::golden::parent(&parent, env, members);
                Some(FileResult {
                    path: m.out_file(),
                    env: e,
                    ids: vec![(m.id.clone(), Arc::clone(&m.origin))],
                    payload: vec![m],
                })
            })
            .collect()
    }
}

/// YAML text of one file's manifests (`with_instance`: for the single `--stdout` stream).
pub fn yaml_of(manifests: &[Manifest], with_instance: bool) -> Result<String, Diagnostic> {
    manifest::to_yaml(manifests, with_instance)
        .map(|(text, _)| text)
        .map_err(|e| Diagnostic::error(format!("cannot write YAML: {e}")))
}

/// The schema catalogue for `check`/`lint`: `--schema-location` folders, then the schema cache
/// (`--schema-cache`, or the project's `.kiln/schemas`), then the embedded schemas.
pub fn catalog(
    flags: &crate::cli::CheckFlags,
    project: Option<&Project>,
) -> Result<crate::check::Catalog, Error> {
    use crate::check::schema;
    let mut sources: Vec<Box<dyn schema::SchemaSource>> = Vec::new();
    for loc in &flags.schema_location {
        sources.push(Box::new(schema::KubeconformLocation::new(loc)));
    }
    let cache_dir = flags
        .schema_cache
        .clone()
        .or_else(|| project.map(|p| p.root.join(".kiln").join("schemas")));
    if let Some(dir) = cache_dir {
        sources.push(schema::cache(&dir));
    }
    sources.push(schema::embedded());
    Ok(crate::check::Catalog::new(sources))
}

/// 1 when any finding at or above `fail_on` was reported, else 0.
#[must_use]
pub fn exit_code(results: &[crate::check::Checked], fail_on: crate::cli::FailOn) -> u8 {
    use crate::diagnostic::Severity;
    u8::from(results.iter().flat_map(|r| &r.findings).any(|f| {
        f.severity == Severity::Error
            || (fail_on == crate::cli::FailOn::Warning && f.severity == Severity::Warning)
    }))
}

/// `--upgrade-to X.Y`, parsed.
pub fn upgrade_to(
    flags: &crate::cli::CheckFlags,
) -> Result<Option<crate::kube::KubeVersion>, Error> {
    flags
        .upgrade_to
        .as_deref()
        .map(|v| {
            crate::kube::KubeVersion::parse(v)
                .ok_or_else(|| Error::run(format!("`--upgrade-to {v}` is not a version like 1.29")))
        })
        .transpose()
}

/// One object of a rendered file: its tree and where its text is in the file.
#[derive(Debug, Clone)]
pub struct Part {
    /// Identity.
    pub id: ResourceId,
    /// The tree (read without locations; `check` re-reads the text when it has findings).
    pub doc: Node,
    /// Template name (`spring-boot/deployment.yaml.j2`).
    pub template: String,
    /// How the template is shown (`templates/...` or `built-in ...`).
    pub template_shown: String,
    /// Byte offset of the document (its `---` line) in the file text.
    pub offset: usize,
    /// Lines before it.
    pub line_base: u32,
    /// Byte offset just past it.
    pub end: usize,
}

/// A rendered file: its YAML text and its objects.
#[derive(Debug, Clone)]
pub struct RenderedText {
    /// The file as `render` writes it.
    pub text: String,
    /// Its objects, in order.
    pub parts: Vec<Part>,
}

/// The text of one file (as [`yaml_of`] writes it) and where each object is in it.
pub fn text_with_parts(manifests: &[Manifest]) -> Result<RenderedText, Diagnostic> {
    let (text, places) = file_text(manifests, None)?;
    Ok(with_parts(manifests, text, places))
}

/// The text of one file (as [`yaml_of`] writes it) and where each document is in it: byte
/// offset, lines before it, byte offset past it. With `placed`, also where each document's
/// nodes were written ([`manifest::to_yaml_placed`]).
pub fn file_text(
    manifests: &[Manifest],
    placed: Option<&mut Vec<(usize, crate::yaml::placed::Placed)>>,
) -> Result<(String, Vec<(usize, u32, usize)>), Diagnostic> {
    manifest::to_yaml_placed(manifests, false, placed)
        .map_err(|e| Diagnostic::error(format!("cannot write YAML: {e}")))
}

/// A file's text (from [`file_text`]) with its objects.
#[must_use]
pub fn with_parts(
    manifests: &[Manifest],
    text: String,
    places: Vec<(usize, u32, usize)>,
) -> RenderedText {
    let parts = manifests
        .iter()
        .zip(places)
        .map(|(m, (offset, line_base, end))| Part {
            id: m.id.clone(),
            doc: m.doc.clone(),
            template: m.origin.template.clone(),
            template_shown: m.origin.template_shown.clone(),
            offset,
            line_base,
            end,
        })
        .collect();
    RenderedText { text, parts }
}

/// Whether two paths name the same folder (`--out golden`, `--against golden` from anywhere in
/// the project).
pub(crate) fn same_folder(a: &Path, b: &Path) -> bool {
    let abs = |p: &Path| {
        p.canonicalize()
            .or_else(|_| std::path::absolute(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    abs(a) == abs(b)
}
