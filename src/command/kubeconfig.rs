//! `kiln kubeconfig`: a kubeconfig that logs a team in as its ServiceAccount in one environment.
//!
//! The ServiceAccount is the one the environment's `_env` templates render for the team (found
//! by its `kiln.dev/team` label, so the name and namespace have one home: the template). The
//! cluster's server and CA come from `kiln.yaml`. The token is a secret: it is read from a file,
//! written only into the kubeconfig (0600), and never into a message.

use std::collections::HashSet;
use std::path::Path;

use serde_json::json;

use crate::cli::{KubeconfigArgs, ValueArgs};
use crate::command::{Output, Pipeline};
use crate::config::ClusterCa;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::error::Error;
use crate::yaml::Value;

/// The label the `_env` templates put on a team's ServiceAccount.
pub const TEAM_LABEL: &str = "kiln.dev/team";

/// What a kubeconfig holds in place of a token when none was given.
pub const TOKEN_PLACEHOLDER: &str = "REPLACE-WITH-THE-SERVICEACCOUNT-TOKEN";

/// Run `kiln kubeconfig`.
pub fn run(dir: &Path, args: &KubeconfigArgs) -> Result<Output, Error> {
    // Refuse a real token on standard output before doing anything: it would land in a
    // terminal's scrollback or a CI log. `-o -` says that is what the user wants.
    // The file to write, or standard output (no `-o`, or `-o -`).
    let to_file = args.output.as_ref().filter(|o| o.as_os_str() != "-");
    if args.token_file.is_some() && args.output.is_none() {
        return Err(Error::Run(
            Diagnostic::error("refusing to print a ServiceAccount token to standard output")
                .help("write the kubeconfig to a file with `-o FILE` (created readable by you only), or say `-o -` to print it anyway"),
        ));
    }
    let pipeline = Pipeline::load(dir, &ValueArgs::default())?;
    let project = &pipeline.project;
    let target = pipeline.one_target(
        &args.env,
        args.cluster.as_deref(),
        "pick one with `--cluster {}` (each cluster issues its own tokens)",
    )?;
    let env = &project.environments[target];
    let Some(cluster_name) = env.cluster.as_deref() else {
        return Err(Error::Run(
            Diagnostic::error(format!("environment `{}` names no cluster", env.name)).help(
                "say where it runs in kiln.yaml: `clusters: {c1: {server: https://...}}` and `environments: {ENV: {cluster: c1}}`",
            ),
        ));
    };
    let Some(cluster) = project.clusters.iter().find(|c| c.name == cluster_name) else {
        return Err(Error::Run(
            Diagnostic::error(format!(
                "cluster `{cluster_name}` of environment `{}` has no entry in `clusters:` of kiln.yaml, so its API server is unknown",
                env.name
            ))
            .help(format!(
                "add it: `clusters: {{{cluster_name}: {{server: https://10.0.0.1:6443, caData: ...}}}}`"
            )),
        ));
    };

    // The team's ServiceAccount, as the environment's templates render it.
    let instances = pipeline.instances(&[target], &[])?;
    let files =
        pipeline.render_only(&[target], &instances, true, Some(&HashSet::new()), &|ms| {
            Ok(ms
                .iter()
                .filter(|m| m.id.kind == "ServiceAccount" && m.id.group().is_empty())
                .filter_map(|m| {
                    let team = m
                        .doc
                        .get("metadata")?
                        .get("labels")?
                        .get_str(TEAM_LABEL)?
                        .to_string();
                    Some((team, m.id.name.clone(), m.id.namespace.clone()))
                })
                .collect::<Vec<_>>())
        })?;
    let accounts: Vec<(String, String, Option<String>)> =
        files.into_iter().flat_map(|f| f.payload).collect();
    let Some((_, account, namespace)) = accounts.iter().find(|(t, _, _)| *t == args.team) else {
        return Err(no_account(&pipeline, target, &args.team));
    };
    let namespace = namespace.clone().unwrap_or_else(|| env.namespace.clone());

    let ca_data = match &cluster.ca {
        None => None,
        Some(ClusterCa::Data(d)) => Some(d.clone()),
        Some(ClusterCa::File(path)) => Some(read_ca(path, &project.relative(path), cluster_name)?),
    };
    let token = match &args.token_file {
        Some(f) => Some(read_token(f)?),
        None => None,
    };
    let name = format!("{account}.{}@{cluster_name}", env.name);
    let mut cluster_entry = json!({"server": cluster.server});
    if let Some(ca) = &ca_data {
        cluster_entry["certificate-authority-data"] = json!(ca);
    }
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": cluster_entry}],
        "users": [{"name": name, "user": {"token": token.as_deref().unwrap_or(TOKEN_PLACEHOLDER)}}],
        "contexts": [{"name": name, "context": {"cluster": cluster_name, "user": name, "namespace": namespace}}],
        "current-context": name,
    });
    let text = crate::yaml::emit(&config)
        .map_err(|e| Error::run(format!("cannot write the kubeconfig: {e}")))?;
    let Some(path) = to_file else {
        return Ok(Output {
            stdout: text,
            code: 0,
            stderr: String::new(),
        });
    };
    crate::output::write_private(path, &text, args.force)?;
    let shown = path.display();
    let mut said = format!(
        "wrote {shown}: context `{name}` (ServiceAccount {namespace}/{account} on {cluster_name}, {})\n",
        cluster.server
    );
    if token.is_none() {
        said.push_str(&format!(
            "the token is a placeholder; fill it with:\n  kubectl --kubeconfig {shown} config set-credentials {name} --token=\"$(kubectl --context ADMIN-CONTEXT -n {namespace} create token {account} --duration=720h)\"\n"
        ));
    }
    if ca_data.is_none() {
        said.push_str(&format!(
            "cluster `{cluster_name}` has no caData or caFile in kiln.yaml: kubectl will trust only the system's CAs\n"
        ));
    }
    Ok(Output {
        stdout: said,
        code: 0,
        stderr: String::new(),
    })
}

/// Why the team has no ServiceAccount here: an unknown team (with a suggestion), or a team
/// without `serviceAccount: true` in this environment.
fn no_account(pipeline: &Pipeline, target: usize, team: &str) -> Error {
    let env = &pipeline.project.environments[target];
    let values = pipeline
        .tree
        .merged(env, None, None, None, &pipeline.overrides)
        .ok();
    let mut names: Vec<String> = Vec::new();
    if let Some(Value::Seq(teams)) = values
        .as_ref()
        .and_then(|v| v.get("teams"))
        .map(|t| &t.value)
    {
        names.extend(
            teams
                .iter()
                .filter_map(|t| t.get_str("name").map(str::to_string)),
        );
    }
    if names.iter().any(|n| n == team) {
        return Error::Run(
            Diagnostic::error(format!(
                "team `{team}` has no ServiceAccount in environment `{}`",
                env.name
            ))
            .help(format!(
                "give the team `serviceAccount: true` in `teams:` and list `{}` in its `envs`",
                env.name
            )),
        );
    }
    let d = Diagnostic::error(format!("unknown team `{team}`"));
    Error::Run(match did_you_mean(team, names.iter().map(String::as_str)) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None if names.is_empty() => {
            d.help("no team is declared: add `teams:` to values/defaults.yaml")
        }
        None => d.help(format!("teams: {}", names.join(", "))),
    })
}

/// A `caFile`, as `certificate-authority-data` (base64 of the PEM).
fn read_ca(path: &Path, shown: &str, cluster: &str) -> Result<String, Error> {
    use base64::Engine as _;
    let pem = std::fs::read(path).map_err(|e| {
        Error::Run(
            Diagnostic::error(format!(
                "cannot read `{shown}` (caFile of cluster `{cluster}`): {e}"
            ))
            .help("caFile is relative to kiln.yaml"),
        )
    })?;
    if !crate::config::is_pem_certificate(&pem) {
        return Err(Error::Run(
            Diagnostic::error(format!(
                "`{shown}` (caFile of cluster `{cluster}`) is not a PEM certificate"
            ))
            .help("it should hold `-----BEGIN CERTIFICATE-----` ... as the cluster's admin kubeconfig does"),
        ));
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(pem))
}

/// The token in `path`, without surrounding whitespace. Messages never quote it.
fn read_token(path: &Path) -> Result<String, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("read the token file", path, &e))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::run(format!("the token file `{}` is not text", path.display())))?;
    let token = text.trim();
    if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::Run(
            Diagnostic::error(format!(
                "the token file `{}` does not hold one token",
                path.display()
            ))
            .help("it should hold just the token, as `kubectl create token` prints it"),
        ));
    }
    Ok(token.to_string())
}
