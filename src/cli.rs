//! The command line exactly as typed: clap definitions and nothing else.
//!
//! No I/O and no validation beyond what clap does; `config` turns these raw arguments into the
//! resolved settings the commands use.

pub use crate::values::set::{SetFlag, SetKind};
use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes:
  0  success (rendered; checks clean)
  1  problems found in the project (values, templates, findings)
  2  could not run (bad flags, no kiln.yaml, unreadable files)

Examples:
  kiln render                          render every service in every environment to out/
  kiln render --env prod --stdout      print prod's manifests as one YAML stream
  kiln values order-service --env test --origin
                                       show merged values and where each was set";

/// Render per-service values and Jinja templates into checked Kubernetes manifests.
#[derive(Debug, Parser)]
#[command(name = "kiln", version, about, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    /// Run as if kiln was started in DIR (kiln.yaml is looked up from there).
    #[arg(short = 'C', long = "directory", value_name = "DIR", global = true)]
    pub directory: Option<PathBuf>,

    /// When to colour output.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    pub color: Color,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Colour choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// Colour when writing to a terminal and `NO_COLOR` is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new kiln project: kiln.yaml, values for dev/test/stage/prod, one example service.
    #[command(after_help = "Examples:
  kiln init                 in the current folder
  kiln init my-fleet        in a new folder
Then: kiln render && kiln check")]
    Init(InitArgs),
    /// Render every service instance in every environment to out/<env>/<service>.yaml.
    #[command(after_help = "Examples:
  kiln render
  kiln render --env dev --service order-service --stdout
  kiln render --env prod --set replicas=4 --out /tmp/manifests")]
    Render(RenderArgs),
    /// Print the merged values of one service in one environment.
    #[command(after_help = "Examples:
  kiln values order-service --env prod
  kiln values order-service --env test --origin
  kiln values gateway --env dev --set image.tag=1.4.2")]
    Values(ValuesArgs),
    /// Write one value into a service's values file, changing only that line.
    #[command(after_help = "\
Writes into values/services/SERVICE.yaml, or with --env into values/services/SERVICE.ENV.yaml
(created if needed). Comments, key order and formatting stay; a missing key is added under the
deepest mapping that exists. The value is typed as --set types it: integers, true/false and
null; anything else (`1.10`, `on`, `0755`) is written as a string. kiln set refuses encrypted
files (*.sops.yaml: use `sops set` or `sops edit`), keys that name a secret, and a key whose value
would still come from another file (a later layer sets it) unless --file names the file.

Examples:
  kiln set order-service image.tag=1.4.3
  kiln set order-service image.tag=1.4.3 --env prod
  kiln set gateway replicas=3 --file values/services/gateway.yaml")]
    Set(SetArgs),
    /// Render in memory and check every manifest against its environment's Kubernetes version.
    #[command(after_help = "Examples:
  kiln check
  kiln check --env prod --format junit > kiln-check.xml
  kiln check --skip-missing-schemas --schema-location ./crd-schemas")]
    Check(CheckArgs),
    /// Check any manifests (files, folders, `-` for stdin) against a Kubernetes version.
    #[command(after_help = "Examples:
  kiln lint deploy/ --kube-version 1.29
  helm template my-chart | kiln lint - --format sarif > lint.sarif
  kiln lint manifests.yaml --schema-location '/schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json'")]
    Lint(LintArgs),
    /// Show which Kubernetes objects a change alters: against golden/, a folder, or a git revision.
    #[command(after_help = "Examples:
  kiln diff                                  current render vs golden/
  kiln diff --against git:origin/main        vs the project as it is on origin/main
  kiln diff --against /tmp/old-out --summary counts only
Exit codes (like git diff --exit-code): 0 no differences, 1 differences, 2 could not run.")]
    Diff(DiffArgs),
    /// Write a kubeconfig for a team's ServiceAccount in one environment (`teams[].serviceAccount`).
    #[command(after_help = "\
The cluster's server and CA come from `clusters:` in kiln.yaml (a `caFile` is read and embedded);
the context's default namespace is the ServiceAccount's. Without --token-file the token is a
placeholder (the README says how to fill it). A file is written readable by its owner only (0600)
and is not replaced unless --force; a real token is printed to standard output only with `-o -`.

Examples:
  kiln kubeconfig --team trade --env dev -o trade-dev.kubeconfig
  kiln kubeconfig --team trade --env prod --cluster tencent-sh-prod --token-file token -o kc.yaml
  kiln kubeconfig --team trade --env dev                 print it, with a placeholder token")]
    Kubeconfig(KubeconfigArgs),
    /// Golden files: the expected output in golden/.
    #[command(subcommand)]
    Golden(GoldenCommand),
    /// Rewrite removed API versions to their replacements where the change is mechanical.
    #[command(after_help = "\
Converts what Kubernetes X.Y (--to) no longer serves: every object whose apiVersion is removed
at or before X.Y, when the migration is mechanical:
  Deployment, DaemonSet, ReplicaSet, StatefulSet -> apps/v1 (spec.selector from the pod labels)
  Ingress -> networking.k8s.io/v1 (service.name/port, spec.defaultBackend, pathType)
  HorizontalPodAutoscaler -> autoscaling/v2 (v2beta1 metric targets restructured)
  CustomResourceDefinition -> apiextensions.k8s.io/v1 (schema, columns, subresources per version)
  Validating/MutatingWebhookConfiguration -> admissionregistration.k8s.io/v1
  CronJob, PodDisruptionBudget, RBAC, NetworkPolicy, PriorityClass, StorageClass, CSIDriver,
  Lease, IngressClass, EndpointSlice, FlowSchema, ... -> their replacement
Deprecated APIs that X.Y still serves are left alone (a note says when they break), so the
output still works on the older clusters it was written for; raise --to to convert them.
Objects with no mechanical migration (PodSecurityPolicy, ThirdPartyResource, a webhook without
sideEffects, a non-structural CRD schema, ...) are left unchanged and reported on standard error
as `file:line: error: ...`.

Documents that need no change are copied byte for byte. A new apiVersion or an added selector is
written into the text itself; other converted documents are written out again in kiln's style,
which loses the comments inside them (comment lines above and below them are kept).

Exit codes: 0 converted or nothing to do, 1 some objects could not be converted, 2 could not run.

Examples:
  kiln convert --to 1.29 old/deployment.yaml          print the converted documents
  kiln convert --to 1.29 --in-place k8s/              rewrite the files (atomically)
  helm template ./chart | kiln convert --to 1.29 - | kiln lint - --kube-version 1.29")]
    Convert(ConvertArgs),
    /// Turn a folder of manifests (one folder per environment) into a kiln project that renders
    /// them back, proven object by object.
    #[command(after_help = "\
DIR holds one folder per environment (DIR/<env>/*.yaml, as `kiln render --out DIR` writes), or,
with --env NAME, is one flat folder for one environment. Objects are grouped into service
instances (labels app.kubernetes.io/instance, app, app.kubernetes.io/name, then names); instances
of the same shape share one template set whose differing leaves are values, layered into
values/defaults.yaml, values/envs/, values/services/. The new project is rendered in memory and
compared with the input object by object; comments and key order are not kept.

Exit codes: 0 adopted and proven, 1 bad input or the render differs (differences listed),
2 could not run. Nothing is written on bad input; an existing --to is never overwritten.

Examples:
  kiln adopt manifests/ --to mall             manifests/dev/*.yaml, manifests/prod/*.yaml, ...
  kiln adopt k8s/ --env prod --to mall        one flat folder, one environment")]
    Adopt(AdoptArgs),
    /// Manage Kubernetes schemas: import OpenAPI documents or CRDs, list what is available.
    #[command(subcommand)]
    Schemas(SchemasCommand),
    /// Explain a check or lint rule: what it catches, why, how to fix, how to suppress.
    #[command(after_help = "Examples:
  kiln explain image-tag
  kiln explain removed-api
  kiln explain --list")]
    Explain(ExplainArgs),
    /// Print a shell completion script.
    #[command(after_help = "Examples:
  kiln completions bash > /etc/bash_completion.d/kiln
  kiln completions zsh > \"${fpath[1]}/_kiln\"
  kiln completions fish > ~/.config/fish/completions/kiln.fish")]
    Completions(CompletionsArgs),
    /// Print the JSON Schema of kiln.yaml, or of a template set's values.
    #[command(after_help = "Examples:
  kiln schema > kiln.schema.json      then start kiln.yaml with
                                      # yaml-language-server: $schema=kiln.schema.json
  kiln schema spring-boot             the values schema of the built-in spring-boot set")]
    Schema(SchemaArgs),
    /// List, print or copy into the project the template sets (built-in and the project's own).
    #[command(subcommand)]
    Templates(TemplatesCommand),
}

/// `kiln templates ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum TemplatesCommand {
    /// List the template sets and their files: built-in, the project's own, or a project file
    /// replacing a built-in one.
    #[command(after_help = "Examples:
  kiln templates list")]
    List,
    /// Print a template file, or every file of a set (each after a `# ==> NAME <==` line).
    #[command(after_help = "Examples:
  kiln templates show spring-boot/deployment.yaml.j2
  kiln templates show spring-boot")]
    Show(TemplatesNameArgs),
    /// Copy a built-in set (its templates, `defaults.yaml` and `values.schema.json`), or one of
    /// its files, into the project's templates folder; refuses to overwrite any file.
    #[command(after_help = "Examples:
  kiln templates eject spring-boot                      take over the whole set
  kiln templates eject spring-boot/values.schema.json   extend its values schema")]
    Eject(TemplatesNameArgs),
}

/// A template set or one of its files.
#[derive(Debug, Clone, Args)]
pub struct TemplatesNameArgs {
    /// `SET` or `SET/FILE` (`spring-boot`, `spring-boot/deployment.yaml.j2`, `_lib/k8s.j2`).
    #[arg(value_name = "SET[/FILE]")]
    pub name: String,
}

/// Flags shared by `check` and `lint`.
#[derive(Debug, Clone, Args)]
pub struct CheckFlags {
    /// Report format.
    #[arg(long, value_enum, default_value_t = crate::report::Format::Text)]
    pub format: crate::report::Format,

    /// Extra schema folder in kubeconform's layout, tried first (repeatable).
    #[arg(long = "schema-location", value_name = "PATH")]
    pub schema_location: Vec<String>,

    /// Schema cache folder filled by `kiln schemas import` (default: the project's
    /// `.kiln/schemas`).
    #[arg(long = "schema-cache", value_name = "DIR")]
    pub schema_cache: Option<PathBuf>,

    /// Skip kinds that have no schema instead of reporting them.
    #[arg(long)]
    pub skip_missing_schemas: bool,

    /// Also report everything that breaks between the target version and X.Y, by the version
    /// at which it breaks.
    #[arg(long = "upgrade-to", value_name = "X.Y")]
    pub upgrade_to: Option<String>,

    /// Exit 1 on errors only (default), or on warnings too.
    #[arg(long = "fail-on", value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
}

/// Which findings fail the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Errors fail; warnings are reported.
    Error,
    /// Warnings fail too.
    Warning,
}

/// Which render targets and services a command covers (every one when none is given).
#[derive(Debug, Clone, Default, Args)]
pub struct Only {
    /// Only these environments (repeatable).
    #[arg(short, long = "env", value_name = "ENV")]
    pub env: Vec<String>,

    /// Only environments on these clusters (repeatable; with `--env`, both must match).
    #[arg(long = "cluster", value_name = "CLUSTER")]
    pub cluster: Vec<String>,

    /// Only these services (repeatable).
    #[arg(short, long = "service", value_name = "SERVICE")]
    pub service: Vec<String>,
}

/// `kiln check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub only: Only,

    #[command(flatten)]
    pub values: ValueArgs,

    #[command(flatten)]
    pub check: CheckFlags,
}

/// `kiln lint`.
#[derive(Debug, Clone, Args)]
pub struct LintArgs {
    /// Files or folders (searched for .yaml, .yml, .json); `-` reads standard input.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    /// The Kubernetes version to check against (default: the newest with schemas).
    #[arg(long = "kube-version", value_name = "X.Y")]
    pub kube_version: Option<String>,

    #[command(flatten)]
    pub check: CheckFlags,
}

/// `kiln diff`.
#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// Compare with this instead of golden/: a folder of manifests, or `git:REF` (the project
    /// rendered as it was at that revision, read from git without touching the work tree).
    #[arg(long, value_name = "DIR|git:REF")]
    pub against: Option<String>,

    #[command(flatten)]
    pub only: Only,

    /// Print only the counts per environment.
    #[arg(long)]
    pub summary: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,

    /// Print Secret values instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,

    #[command(flatten)]
    pub values: ValueArgs,
}

/// `kiln diff --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// Per-resource field changes and a unified diff.
    Text,
    /// One JSON document.
    Json,
}

/// `kiln kubeconfig`.
#[derive(Debug, Clone, Args)]
pub struct KubeconfigArgs {
    /// The team (`teams[].name` in values) whose ServiceAccount the kubeconfig logs in as.
    #[arg(long, value_name = "TEAM")]
    pub team: String,

    /// The environment.
    #[arg(short, long = "env", value_name = "ENV")]
    pub env: String,

    /// The cluster, when the environment is on several.
    #[arg(long = "cluster", value_name = "CLUSTER")]
    pub cluster: Option<String>,

    /// Read the ServiceAccount's token from this file (else a placeholder is written).
    #[arg(long = "token-file", value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// Write the kubeconfig here (`-`: standard output; the default without --token-file).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `kiln golden ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum GoldenCommand {
    /// Re-render the project and rewrite golden/ atomically (refused when CI is set).
    Update(GoldenUpdateArgs),
}

/// `kiln golden update`.
#[derive(Debug, Clone, Args)]
pub struct GoldenUpdateArgs {
    #[command(flatten)]
    pub values: ValueArgs,
}

/// `kiln convert`.
#[derive(Debug, Clone, Args)]
pub struct ConvertArgs {
    /// Files or folders (searched for .yaml, .yml, .json); `-` reads standard input.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    /// Convert what Kubernetes X.Y no longer serves (APIs removed at or before X.Y).
    #[arg(long = "to", value_name = "X.Y")]
    pub to: String,

    /// Rewrite changed files instead of printing, each replaced atomically; a file with a
    /// document that is not valid YAML is left alone. JSON files stay JSON.
    #[arg(long)]
    pub in_place: bool,
}

/// `kiln adopt`.
#[derive(Debug, Clone, Args)]
pub struct AdoptArgs {
    /// The folder of manifests: one folder per environment, or one flat folder with --env.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// Where to write the new project (must not exist; default: `<DIR>-kiln`).
    #[arg(long = "to", value_name = "PROJECT")]
    pub to: Option<PathBuf>,

    /// DIR is one flat folder: the objects of environment NAME.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,

    /// The environments' Kubernetes version (default: the newest every object's API is
    /// served by, at most 1.35).
    #[arg(long = "kube-version", value_name = "X.Y")]
    pub kube_version: Option<String>,
}

/// `kiln schemas ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum SchemasCommand {
    /// Import an OpenAPI v2 document, an OpenAPI v3 folder, or CRD manifests into the schema cache.
    #[command(after_help = "Examples:
  kubectl get --raw /openapi/v2 > v2.json && kiln schemas import v2.json --kube-version 1.21
  kiln schemas import ./openapi-v3/ --kube-version 1.35
  kiln schemas import crds/ --kube-version 1.35")]
    Import(SchemasImportArgs),
    /// List the Kubernetes versions and kinds with schemas.
    List(SchemasListArgs),
}

/// `kiln schemas import`.
#[derive(Debug, Clone, Args)]
pub struct SchemasImportArgs {
    /// An OpenAPI v2 JSON file, an OpenAPI v3 folder (one file per group-version), or CRD
    /// manifests (files or folders).
    #[arg(value_name = "FILE|DIR", required = true)]
    pub paths: Vec<PathBuf>,

    /// The Kubernetes version the schemas belong to (default: the OpenAPI document's
    /// `info.version`, else a folder named like `1.35` in its path; CRDs without it go into every
    /// version with schemas).
    #[arg(long = "kube-version", value_name = "X.Y")]
    pub kube_version: Option<String>,

    /// The schema cache to write (default: the project's `.kiln/schemas`).
    #[arg(long = "schema-cache", value_name = "DIR")]
    pub schema_cache: Option<PathBuf>,
}

/// `kiln schemas list`.
#[derive(Debug, Clone, Args)]
pub struct SchemasListArgs {
    /// The schema cache to read (default: the project's `.kiln/schemas`).
    #[arg(long = "schema-cache", value_name = "DIR")]
    pub schema_cache: Option<PathBuf>,
}

/// `kiln init`.
#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// Where to create the project (default: the current folder).
    pub dir: Option<PathBuf>,
}

/// `kiln explain`.
#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    /// The rule id, as printed in brackets: `error[image-tag]`.
    #[arg(required_unless_present = "list")]
    pub rule: Option<String>,

    /// List every rule.
    #[arg(long)]
    pub list: bool,
}

/// `kiln completions`.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `kiln schema`.
#[derive(Debug, Clone, Args)]
pub struct SchemaArgs {
    /// A template set: print its `values.schema.json` instead.
    pub set: Option<String>,
}

/// Flags that choose and override values, shared by every command that renders.
#[derive(Debug, Clone, Default, Args)]
pub struct ValueArgs {
    /// Extra values file, merged above the project's layers (repeatable, in order).
    #[arg(short = 'f', long = "values", value_name = "FILE")]
    pub values_files: Vec<PathBuf>,

    /// Set a value: `a.b.c=1`, `list[2].name=x`; integers, true/false and null are typed.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,

    /// Set a value that is always a string.
    #[arg(long = "set-string", value_name = "PATH=VALUE")]
    pub set_string: Vec<String>,

    /// Set a value from JSON: `--set-json 'ports=[80,443]'`.
    #[arg(long = "set-json", value_name = "PATH=JSON")]
    pub set_json: Vec<String>,

    /// The `--set`, `--set-string` and `--set-json` flags in command-line order across the
    /// three (filled by [`parse`]; this is what commands read).
    #[arg(skip)]
    pub sets: Vec<SetFlag>,
}

/// `kiln render`.
#[derive(Debug, Clone, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub only: Only,

    /// Write here instead of the project's out/ folder.
    #[arg(short, long, value_name = "DIR", conflicts_with = "stdout")]
    pub out: Option<PathBuf>,

    /// Print one YAML stream to standard output instead of writing files.
    #[arg(long)]
    pub stdout: bool,

    #[command(flatten)]
    pub values: ValueArgs,
}

/// `kiln values`.
#[derive(Debug, Clone, Args)]
pub struct ValuesArgs {
    /// The service (or variant instance, `order-service-stress`).
    pub service: String,

    /// The environment.
    #[arg(short, long = "env", value_name = "ENV")]
    pub env: String,

    /// The cluster, when the environment is on several.
    #[arg(long = "cluster", value_name = "CLUSTER")]
    pub cluster: Option<String>,

    /// Add where each value was set as a trailing comment.
    #[arg(long)]
    pub origin: bool,

    /// Print values whose key names a secret (`password`, `token`, `secret`, ...), and values
    /// decrypted from `*.sops.yaml` files, instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,

    #[command(flatten)]
    pub values: ValueArgs,
}

/// `kiln set`.
#[derive(Debug, Clone, Args)]
pub struct SetArgs {
    /// The service (a file in values/services/).
    pub service: String,

    /// `PATH=VALUE`, as with `--set`: `image.tag=1.4.3`, `env.JAVA_OPTS=-Xmx1g`.
    #[arg(value_name = "PATH=VALUE")]
    pub assignment: String,

    /// Write into the service's file for this environment (values/services/SERVICE.ENV.yaml).
    #[arg(short, long = "env", value_name = "ENV")]
    pub env: Option<String>,

    /// Write into this values file, wherever the value comes from now.
    #[arg(long, value_name = "FILE", conflicts_with = "env")]
    pub file: Option<PathBuf>,

    /// Write the value as a string whatever it looks like (as `--set-string`).
    #[arg(long)]
    pub string: bool,
}

/// `--format` of `kiln check` and `kiln lint`: the report formats, named for the command line
/// here so that `report` needs no clap.
impl ValueEnum for crate::report::Format {
    fn value_variants<'a>() -> &'a [Self] {
        use crate::report::Format;
        &[Format::Text, Format::Json, Format::Junit, Format::Sarif]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        use crate::report::Format;
        use clap::builder::PossibleValue;
        Some(match self {
            Format::Text => PossibleValue::new("text").help("One line per finding, then a summary"),
            Format::Json => PossibleValue::new("json").help("JSON Lines: one object per finding"),
            Format::Junit => {
                PossibleValue::new("junit").help("`JUnit` XML: one testcase per resource")
            }
            Format::Sarif => PossibleValue::new("sarif").help("SARIF 2.1.0"),
        })
    }
}

/// Parse the command line and resolve it once: every relative path argument is taken from
/// `-C DIR` ("as if started in DIR", as `git -C` and `make -C` do; `-` stays standard input),
/// and the `--set`-family flags are put in command-line order into the values arguments. Nothing
/// below `command/` sees an unresolved path or clap's matches.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Cli, clap::Error> {
    let matches = Cli::command().try_get_matches_from(args)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    // The deepest subcommand holds the flags (`kiln golden update --set ...`).
    let mut sub = &matches;
    while let Some((_, m)) = sub.subcommand() {
        sub = m;
    }
    let sets = ordered_sets(sub);
    let dir = cli.directory.clone().unwrap_or_default();
    cli.command.resolve(&dir, sets);
    Ok(cli)
}

/// `path` as seen from `dir`: unchanged when absolute, `-` or `dir` is empty.
fn rebase(dir: &std::path::Path, path: &mut PathBuf) {
    if !dir.as_os_str().is_empty() && !path.is_absolute() && path.as_os_str() != "-" {
        *path = dir.join(&*path);
    }
}

impl ValueArgs {
    fn resolve(&mut self, dir: &std::path::Path, sets: Vec<SetFlag>) {
        self.values_files.iter_mut().for_each(|f| rebase(dir, f));
        self.sets = sets;
    }
}

impl Command {
    /// Rebase every path argument on `dir` and hand the ordered `--set` flags to the values
    /// arguments of the commands that render.
    fn resolve(&mut self, dir: &std::path::Path, sets: Vec<SetFlag>) {
        let opt = |p: &mut Option<PathBuf>| {
            if let Some(p) = p {
                rebase(dir, p);
            }
        };
        match self {
            Command::Render(a) => {
                a.values.resolve(dir, sets);
                opt(&mut a.out);
            }
            Command::Diff(a) => a.values.resolve(dir, sets),
            Command::Values(a) => a.values.resolve(dir, sets),
            Command::Check(a) => {
                a.values.resolve(dir, sets);
                opt(&mut a.check.schema_cache);
            }
            Command::Golden(GoldenCommand::Update(a)) => a.values.resolve(dir, sets),
            Command::Lint(a) => {
                a.paths.iter_mut().for_each(|p| rebase(dir, p));
                opt(&mut a.check.schema_cache);
            }
            Command::Convert(a) => a.paths.iter_mut().for_each(|p| rebase(dir, p)),
            Command::Schemas(SchemasCommand::Import(a)) => {
                a.paths.iter_mut().for_each(|p| rebase(dir, p));
                opt(&mut a.schema_cache);
            }
            Command::Schemas(SchemasCommand::List(a)) => opt(&mut a.schema_cache),
            Command::Kubeconfig(a) => {
                opt(&mut a.token_file);
                opt(&mut a.output);
            }
            Command::Set(a) => opt(&mut a.file),
            Command::Adopt(a) => {
                rebase(dir, &mut a.dir);
                opt(&mut a.to);
            }
            Command::Init(a) => opt(&mut a.dir),
            Command::Schema(_)
            | Command::Templates(_)
            | Command::Explain(_)
            | Command::Completions(_) => {}
        }
    }
}

fn ordered_sets(m: &ArgMatches) -> Vec<SetFlag> {
    let mut all = Vec::new();
    for (id, kind) in [
        ("set", SetKind::Auto),
        ("set_string", SetKind::String),
        ("set_json", SetKind::Json),
    ] {
        // Commands without value flags do not define these ids; ask before `indices_of`, which
        // panics on an unknown id.
        let Ok(Some(values)) = m.try_get_many::<String>(id) else {
            continue;
        };
        let Some(indices) = m.indices_of(id) else {
            continue;
        };
        for (text, index) in values.zip(indices) {
            all.push((
                index,
                SetFlag {
                    kind,
                    text: text.clone(),
                },
            ));
        }
    }
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_flags_keep_command_line_order() {
        let args = [
            "kiln",
            "render",
            "--set-string",
            "a=1",
            "--set",
            "b=2",
            "--set-json",
            "c=[]",
            "--set",
            "d=3",
        ];
        let Command::Render(a) = parse(args.iter().map(OsString::from)).unwrap().command else {
            panic!("not render")
        };
        let texts: Vec<_> = a.values.sets.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["a=1", "b=2", "c=[]", "d=3"]);
        assert_eq!(a.values.sets[0].kind, SetKind::String);
    }

    #[test]
    fn nested_subcommands_keep_their_set_flags_and_paths_follow_dash_c() {
        let parse_args = |args: &[&str]| parse(args.iter().map(OsString::from)).unwrap().command;
        let Command::Golden(GoldenCommand::Update(a)) = parse_args(&[
            "kiln", "-C", "fleet", "golden", "update", "-f", "x.yaml", "--set", "a=1",
        ]) else {
            panic!("not golden update")
        };
        assert_eq!(a.values.sets.len(), 1);
        assert_eq!(a.values.values_files, [PathBuf::from("fleet/x.yaml")]);
        let Command::Lint(a) = parse_args(&[
            "kiln",
            "-C",
            "fleet",
            "lint",
            "a.yaml",
            "-",
            "/abs.yaml",
            "--schema-cache",
            "cache",
        ]) else {
            panic!("not lint")
        };
        assert_eq!(
            a.paths,
            [
                PathBuf::from("fleet/a.yaml"),
                PathBuf::from("-"),
                PathBuf::from("/abs.yaml")
            ]
        );
        assert_eq!(a.check.schema_cache, Some(PathBuf::from("fleet/cache")));
        let Command::Lint(a) = parse_args(&["kiln", "lint", "a.yaml"]) else {
            panic!("not lint")
        };
        assert_eq!(a.paths, [PathBuf::from("a.yaml")]);
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
