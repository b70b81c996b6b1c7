//! `kiln adopt DIR`: write the project `adopt` computes, then prove it: render it in memory and
//! compare every object with the input (identity, then every field).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::adopt::factor::plain;
use crate::adopt::{self, Adopted, read};
use crate::cli::{AdoptArgs, ValueArgs};
use crate::command::{Output, Pipeline};
use crate::diagnostic::Diagnostic;
use crate::diff::{self, EnvDiff, Object};
use crate::error::Error;
use crate::kube::KubeVersion;

/// Run `kiln adopt`.
pub fn run(args: &AdoptArgs) -> Result<Output, Error> {
    let to = args.to.clone().unwrap_or_else(|| {
        let mut name = args
            .dir
            .file_name()
            .map_or_else(|| "adopted".into(), std::ffi::OsStr::to_os_string);
        name.push("-kiln");
        args.dir.with_file_name(name)
    });
    if to.exists() {
        return Err(Error::Run(
            Diagnostic::error(format!("`{}` already exists", to.display()))
                .help("kiln adopt never overwrites: give a new folder with `--to`"),
        ));
    }
    if let Some(v) = &args.kube_version
        && KubeVersion::parse(v).is_none()
    {
        return Err(Error::run(format!(
            "`--kube-version {v}` is not a version like 1.29"
        )));
    }
    if let Some(e) = &args.env
        && let Err(why) = crate::kube::names::dns_label(e)
    {
        return Err(Error::Run(
            Diagnostic::error(format!("`--env {e}` {why}")).help(format!(
                "environment names are lowercase letters, digits and `-`: `--env {}`",
                read::dns_label(e)
            )),
        ));
    }
    if !args.dir.is_dir() {
        return Err(Error::run(format!(
            "`{}` is not a folder",
            args.dir.display()
        )));
    }
    let envs = read::read(&args.dir, args.env.as_deref())?;
    let trial_dir = {
        let staging = staging_dir(&to)?;
        let mut name = staging.file_name().unwrap_or_default().to_os_string();
        name.push("-trial");
        staging.with_file_name(name)
    };
    let trial = |files: &std::collections::BTreeMap<String, String>, env_level: bool| {
        let result = trial_render(&trial_dir, files, env_level);
        let _ = std::fs::remove_dir_all(&trial_dir);
        result
    };
    let adopted = adopt::adopt(envs, args.kube_version.as_deref(), &trial).map_err(|e| {
        Error::run(format!(
            "kiln adopt could not build the project (a bug in kiln: {e}); please report it with the input folder"
        ))
    })?;
    let staging = staging_dir(&to)?;
    // The proof renders the values files with every secret in its plain layer; then the
    // secret values move to their `*.sops.yaml` twins (plaintext, for `sops encrypt`).
    let proof_files = adopted
        .files
        .iter()
        .filter(|(p, _)| !p.ends_with(".sops.yaml"))
        .map(|(p, t)| (p, adopted.proof.get(p).unwrap_or(t)));
    if let Err(e) = write(&staging, proof_files) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let diffs = match prove(&staging, &adopted) {
        Ok(d) => d,
        // The adopted project does not load or render (a kiln bug): it is kept where the
        // messages point, for inspection and the bug report.
        Err(e) => {
            let note = if std::fs::rename(&staging, &to).is_ok() {
                format!(
                    "the adopted project does not render (a bug in kiln; please report it): it is kept in `{}`, where the files above are",
                    to.display()
                )
            } else {
                let _ = std::fs::remove_dir_all(&staging);
                "the adopted project does not render (a bug in kiln; please report it)".to_string()
            };
            let noted = |d: &Diagnostic| d.clone().note(note.clone());
            return Err(match e {
                Error::Project(ds) => Error::Project(ds.iter().map(noted).collect()),
                Error::Run(d) => Error::Run(noted(&d)),
            });
        }
    };
    if let Err(e) = write(&staging, adopted.files.iter()) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    if let Err(e) = std::fs::rename(&staging, &to) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(Error::io("write", &to, &e));
    }
    let mut stdout = report(&adopted.report, &to);
    let code = if diffs.iter().all(EnvDiff::is_empty) {
        stdout.push_str("round trip: exact (every object of every environment, every field)\n");
        0
    } else {
        stdout.push_str("round trip: DIFFERS (the project was written for inspection)\n");
        stdout.push_str(&diff::render::text(&diffs, false));
        1
    };
    Ok(Output {
        stdout,
        code,
        stderr: String::new(),
    })
}

/// A fresh hidden folder beside `to`, renamed to `to` once the project is proven.
fn staging_dir(to: &Path) -> Result<PathBuf, Error> {
    let parent = match to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io("create", &parent, &e))?;
    let name = to
        .file_name()
        .map_or_else(|| "adopted".into(), |n| n.to_string_lossy().into_owned());
    let staging = parent.join(format!(".{name}.kiln-adopt-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| Error::io("remove", &staging, &e))?;
    }
    Ok(staging)
}

fn write<'a>(
    root: &Path,
    files: impl Iterator<Item = (&'a String, &'a String)>,
) -> Result<(), Error> {
    for (rel, text) in files {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, &e))?;
        }
        std::fs::write(&path, text).map_err(|e| Error::io("write", &path, &e))?;
    }
    Ok(())
}

/// Write the trial project `files` (candidate values of the built-in sets) to `dir`, render it
/// in memory and return every instance's objects; the messages of a project that does not
/// render are not returned (they may quote secret values).
fn trial_render(
    dir: &Path,
    files: &std::collections::BTreeMap<String, String>,
    env_level: bool,
) -> Result<Vec<adopt::Rendered>, String> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| e.to_string())?;
    }
    write(dir, files.iter()).map_err(|_| "cannot write the trial project".to_string())?;
    let fail = |e: &Error| {
        if std::env::var_os("KILN_ADOPT_DEBUG").is_some() {
            eprintln!("{}", crate::diagnostic::render(e.diagnostics(), false));
        }
        "the built-in sets' trial project does not render".to_string()
    };
    let pipeline = Pipeline::load(dir, &ValueArgs::default()).map_err(|e| fail(&e))?;
    let envs = pipeline.select_envs(&[]).map_err(|e| fail(&e))?;
    let instances = pipeline.instances(&envs, &[]).map_err(|e| fail(&e))?;
    let files = pipeline
        .render(&envs, &instances, env_level, &|ms| Ok(ms.to_vec()))
        .map_err(|e| fail(&e))?;
    Ok(files
        .into_iter()
        .filter_map(|f| {
            let env = pipeline.project.environments[f.env].folder.clone();
            let instance = f
                .path
                .rsplit('/')
                .next()?
                .strip_suffix(".yaml")?
                .to_string();
            Some(adopt::Rendered {
                env,
                instance,
                objects: f.payload.into_iter().map(|m| m.doc).collect(),
            })
        })
        .collect())
}

/// Render the project at `root` in memory and compare it with the input, object by object.
fn prove(root: &Path, adopted: &Adopted) -> Result<Vec<EnvDiff>, Error> {
    let pipeline = Pipeline::load(root, &ValueArgs::default())?;
    let envs = pipeline.select_envs(&[])?;
    let instances = pipeline.instances(&envs, &[])?;
    let files = pipeline.render(&envs, &instances, true, &|ms| Ok(ms.to_vec()))?;
    let mut rendered = Vec::new();
    for f in files {
        let env = pipeline.project.environments[f.env].folder.clone();
        for m in f.payload {
            rendered.push(Object {
                env: env.clone(),
                id: m.id,
                doc: plain(&m.doc),
                source: m.origin.template.clone(),
            });
        }
    }
    let input: Vec<Object> = adopted
        .expected
        .iter()
        .flat_map(|(env, objects)| {
            objects.iter().map(move |o| Object {
                env: env.clone(),
                id: o.id.clone(),
                doc: plain(&o.doc),
                source: "input".into(),
            })
        })
        .collect();
    let names: Vec<String> = adopted.expected.iter().map(|(e, _)| e.clone()).collect();
    Ok(diff::compare_in(&names, input, rendered, false))
}

/// The report: counts and file names only, never a value.
fn report(r: &adopt::Report, to: &Path) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "adopted {} objects in {} environment(s) ({}) into `{}`",
        r.objects,
        r.envs.len(),
        r.envs.join(", "),
        to.display()
    );
    let _ = writeln!(s, "template sets:");
    for set in &r.sets {
        let _ = writeln!(
            s,
            "  {:<32} {} instance(s) of {} service(s), {} object(s) each, {} value(s){}",
            set.name,
            set.instances,
            set.services,
            set.objects,
            set.values,
            if set.builtin {
                " (built-in, fitted)"
            } else if set.instances == 1 {
                " (verbatim)"
            } else {
                ""
            }
        );
    }
    if r.env_fitted {
        let _ = writeln!(
            s,
            "  {:<32} every environment's Namespace and team access{} (built-in, fitted)",
            "_env",
            if r.env_ingress {
                " and ingress-nginx (values `namespace`, `teams`, `ingressNginx`)"
            } else {
                " (values `namespace`, `teams`; ingress-nginx factored)"
            }
        );
    }
    let fitted: usize = r
        .sets
        .iter()
        .filter(|s| s.builtin)
        .map(|s| s.instances)
        .sum();
    let factored: usize = r
        .sets
        .iter()
        .filter(|s| !s.builtin)
        .map(|s| s.instances)
        .sum();
    let _ = writeln!(
        s,
        "instances: {fitted} fitted to built-in sets, {factored} factored into project sets ({} tried on a built-in set and factored instead)",
        r.unfitted
    );
    if let Some(e) = &r.fit_error {
        let _ = writeln!(
            s,
            "note: {e}: the instances tried there are factored (KILN_ADOPT_DEBUG=1 prints why)"
        );
    }
    if r.clusters_split {
        let _ = writeln!(
            s,
            "note: the `<env>@<cluster>` folders are adopted as environments of their own: a service differs between the clusters of one environment (kiln has no per-service, per-cluster values layer), or the folders name clusters inconsistently (one cluster for two environments, an environment with and without a cluster, two namespaces)"
        );
    }
    let pct = |a: usize, b: usize| (a * 100).checked_div(b).unwrap_or(0);
    let _ = writeln!(
        s,
        "values: {} lines ({} bytes); input: {} lines ({} bytes); values + templates are {}% of the input's bytes",
        r.values_lines,
        r.values_bytes,
        r.input_lines,
        r.input_bytes,
        pct(r.values_bytes + r.template_bytes, r.input_bytes)
    );
    let _ = writeln!(
        s,
        "patches written: {}; instances kept verbatim: {}",
        r.patches, r.verbatim
    );
    if r.applyset_parents > 0 {
        let _ = writeln!(
            s,
            "ApplySet: {} parent(s) dropped and member labels removed; `applyset: {{scope: environment}}` in kiln.yaml puts them back on `kiln golden update`",
            r.applyset_parents
        );
    }
    if r.digests > 0 {
        let _ = writeln!(
            s,
            "warning: {} value(s) are secret digests (`sha256:...`, as golden files keep them) and cannot be reversed: put the real values in before deploying (adopt `kiln render --out` output instead of golden/)",
            r.digests
        );
    }
    if !r.secret_values.is_empty() {
        let _ = writeln!(
            s,
            "secret-looking values ({}, by file and key; the values are not shown):",
            r.secret_values.len()
        );
        for v in &r.secret_values {
            let _ = writeln!(s, "  {v}");
        }
    }
    if !r.secret_files.is_empty() {
        let _ = writeln!(
            s,
            "written IN PLAINTEXT, encrypt each before committing (`sops encrypt --in-place FILE`, with a creation rule in `.sops.yaml`); kiln refuses them until then:"
        );
        for f in &r.secret_files {
            let _ = writeln!(s, "  {f}");
        }
    }
    s.push_str("comments and key order of the input are not kept\n");
    s
}
