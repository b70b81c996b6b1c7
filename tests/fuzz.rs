//! Mutation fuzzing of every input reader: values layers, `--set`, templates and values through
//! the real binary, manifests for `kiln lint`/`kiln check`, the YAML emitter, secrets and
//! excerpts. The oracle is the same everywhere: no panic, no case slower than [`HANG`] seconds,
//! and for the emitter an exact round trip.
//!
//! Inputs start from seeds (the shared corpus, the repository's `values/`, `templates/` and
//! `golden/`, and earlier failures kept in `tests/fixtures/fuzz/<target>/`) and go through a
//! small deterministic mutator ([`mutate`]): a seeded xorshift generator, no dependency. A plain
//! `cargo test` runs a fixed number of cases from a fixed seed. `bench/fuzz.sh` sets
//! `KILN_FUZZ_SECONDS`, and each target then runs that long from a time-based seed and prints one
//! `fuzz <target>: ...` line. A failure is shrunk for a few seconds, written to
//! `target/fuzz-failures/`, and named by seed and case: `KILN_FUZZ_SEED=<seed>
//! KILN_FUZZ_CASE=<case> cargo test --test integration fuzz::<target>` replays it. Copy the
//! written file into `tests/fixtures/fuzz/<target>/` to keep it as a regression case.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, OnceLock, mpsc};
use std::time::{Duration, Instant};

use kiln::check::{self, Catalog, Checked};
use kiln::cli::{SetFlag, SetKind};
use kiln::diagnostic::{self, Diagnostic, Excerpt};
use kiln::source::{Loc, Sources};
use kiln::yaml::{self, Dialect, Map, Node, Value};
use serde_json::json;

use crate::support::{Kiln, shared};

/// A case slower than this is a hang.
const HANG: Duration = Duration::from_secs(10);

/// Mutated inputs are cut to this size (in a plain `cargo test`, to a quarter of it): bigger
/// inputs only make cases slower.
const MAX_INPUT: usize = 64 << 10;

/// The cut of this run.
static INPUT_CUT: AtomicUsize = AtomicUsize::new(MAX_INPUT / 4);

/// The seed of a plain `cargo test` run ("kiln" in ASCII).
const FIXED_SEED: u64 = 0x6b69_6c6e;

/// Failures written and shrunk per target; later ones are only counted.
const SAVED: usize = 3;

// ---------------------------------------------------------------------------------------------
// The targets
// ---------------------------------------------------------------------------------------------

#[test]
fn values_layers() {
    fuzz::<Bytes<ValuesTarget>>("values", 600, |rng| {
        let seeds = &corpus().yaml;
        let seed = &rng.pick(seeds).bytes;
        Bytes::new(mutate(rng, seed, seeds))
    });
}

#[test]
fn set_flags() {
    fuzz::<SetCase>("set", 1000, |rng| {
        let flags = (0..=rng.below(3))
            .map(|_| {
                let kind = *rng.pick(&[SetKind::Auto, SetKind::String, SetKind::Json]);
                let seed = if kind == SetKind::Json {
                    rng.pick(SET_JSON_SEEDS)
                } else {
                    rng.pick(SET_SEEDS)
                };
                let text = if rng.chance(85) {
                    mutate(rng, seed.as_bytes(), &corpus().set)
                } else {
                    seed.as_bytes().to_vec()
                };
                (kind, lossy(&text))
            })
            .collect();
        let base = &rng.pick(&corpus().values).bytes;
        let values = if rng.chance(20) {
            mutate(rng, base, &corpus().yaml)
        } else {
            base.clone()
        };
        SetCase {
            flags,
            values: lossy(&values),
        }
    });
}

#[test]
fn manifests_lint() {
    fuzz::<Bytes<LintTarget>>("lint", 200, |rng| {
        let seeds = &corpus().manifests;
        let seed = &rng.pick(seeds).bytes;
        Bytes::new(mutate(rng, seed, seeds))
    });
}

#[test]
fn templates_and_values_render() {
    fuzz::<RenderCase>("render", 50, RenderCase::generate);
}

#[test]
fn emitter_round_trip() {
    fuzz::<EmitCase>("emit", 600, |rng| {
        let docs = (0..=rng.below(2))
            .map(|_| {
                if rng.chance(30) {
                    let mut tree = rng.pick(realistic_trees()).clone();
                    plant_nasty(rng, &mut tree);
                    tree
                } else {
                    gen_node(rng, 0)
                }
            })
            .collect();
        EmitCase { docs }
    });
}

#[test]
fn secrets_and_excerpts() {
    fuzz::<TextCase>("text", 600, |rng| {
        let seeds = &corpus().all;
        let seed = &rng.pick(seeds).bytes;
        let text = lossy(&mutate(rng, seed, seeds));
        let len = text.len();
        // Ranges anywhere: inside a character, reversed, past the end.
        let mut at = || match rng.below(4) {
            0 => rng.below(len + 1),
            1 => len.saturating_sub(rng.below(8)),
            2 => rng.below(len + 40),
            _ => rng.below(16),
        };
        let (start, end, split) = (at(), at(), at());
        TextCase {
            text,
            start,
            end,
            split,
            line: u32::try_from(rng.below(200)).unwrap_or(0),
            col: u32::try_from(rng.below(200)).unwrap_or(0),
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Values layers: `values::parse_layer`, the same text as a manifest stream, merging, diagnostics
// ---------------------------------------------------------------------------------------------

struct ValuesTarget;

impl BytesTarget for ValuesTarget {
    const EXT: &'static str = "yaml";

    fn run(bytes: &[u8]) -> Result<(), Failure> {
        let text = lossy(bytes);
        let mut sources = Sources::default();
        let src = sources.add("values/fuzz.yaml", text.clone());
        match kiln::values::parse_layer(src, &sources) {
            Ok(node) => {
                // A layer read back after `kiln values` printed it is the same layer.
                round_trip(&node, Dialect::Values, false)?;
                let mut merged = node.clone();
                kiln::values::merge::merge(&mut merged, &node);
                let _ = kiln::values::merge::without_nulls(&merged);
            }
            Err(d) => shown(&d),
        }
        // The same text as a manifest stream (the lint target reads it document by document).
        if let Err(e) = yaml::parse_stream(&text, src, Dialect::Kube) {
            let at = e.loc(src, &text);
            shown(&Diagnostic::error(e.message.clone()).at(&sources, at, &e.message));
        }
        let _ = yaml::parse_stream_unlocated(&text, Dialect::Kube);
        Ok(())
    }
}

/// Render a diagnostic both ways, as kiln prints it.
fn shown(d: &Diagnostic) {
    let _ = diagnostic::render(std::slice::from_ref(d), false);
    let _ = diagnostic::render(std::slice::from_ref(d), true);
}

// ---------------------------------------------------------------------------------------------
// `--set`, `--set-string`, `--set-json`
// ---------------------------------------------------------------------------------------------

/// Flags as users type them (Helm habits included).
const SET_SEEDS: &[&str] = &[
    "image.tag=1.4.2",
    "replicas=3",
    "ports[0].port=8080",
    "env.SPRING_PROFILES_ACTIVE=prod",
    "a\\.b.c=d",
    "hosts=a,b",
    "x=",
    "x=null",
    "list[2]=true",
    "resources.limits.memory=1Gi",
    "nodeSelector.kubernetes\\.io/os=linux",
    "a.b[0].c[1].d=0755",
    "version=1.10",
    "big=99999999999999999999",
    "neg=-9223372036854775808",
    "name=日本語",
    "annotations.note=a: b # c",
    "tolerations[1000]=x",
    "=value",
    "a..b=1",
    "a[x]=1",
    "[0]=1",
    "trail\\",
];

/// `--set-json` flags.
const SET_JSON_SEEDS: &[&str] = &[
    "ports=[{\"port\":80},{\"port\":443}]",
    "labels={\"app\":\"api\",\"tier\":\"web\"}",
    "x=1e400",
    "x=-0.0",
    "x=\"\\u0000\\ufffe\"",
    "x=[[[[[[[[[[1]]]]]]]]]]",
    "x=18446744073709551616",
    "x=null",
    "env[0]={\"name\":\"PASSWORD\",\"value\":\"hunter2\"}",
];

/// `--set` flags applied to a values layer.
#[derive(Clone, Debug)]
struct SetCase {
    flags: Vec<(SetKind, String)>,
    values: String,
}

impl Case for SetCase {
    fn run(&self) -> Result<(), Failure> {
        let mut root = yaml::parse(&self.values, 0, Dialect::Values)
            .ok()
            .filter(|n| matches!(n.value, Value::Map(_)))
            .unwrap_or_else(|| Node::new(Value::Map(Map::default()), Loc::default()));
        let mut sources = Sources::default();
        sources.add("values/fuzz.yaml", self.values.clone());
        let flags: Vec<SetFlag> = self
            .flags
            .iter()
            .map(|(kind, text)| SetFlag {
                kind: *kind,
                text: text.clone(),
            })
            .collect();
        match kiln::values::set::parse_all(&flags, &mut sources) {
            Ok(ops) => {
                for op in &ops {
                    let _ = kiln::values::set::display_path(&op.path);
                    if let Err((message, at)) = kiln::values::set::apply(&mut root, op) {
                        shown(&Diagnostic::error(message).at(&sources, at, "set here"));
                    }
                }
                round_trip(&root, Dialect::Values, false)?;
            }
            Err(d) => shown(&d),
        }
        Ok(())
    }

    fn shrink(&self) -> Vec<SetCase> {
        let mut out = Vec::new();
        for i in 0..self.flags.len() {
            let mut fewer = self.clone();
            fewer.flags.remove(i);
            out.push(fewer);
        }
        for cut in shrink_bytes(self.values.as_bytes()) {
            out.push(SetCase {
                values: lossy(&cut),
                ..self.clone()
            });
        }
        for (i, (_, text)) in self.flags.iter().enumerate() {
            for cut in shrink_bytes(text.as_bytes()) {
                let mut c = self.clone();
                c.flags[i].1 = lossy(&cut);
                out.push(c);
            }
        }
        out
    }

    fn size(&self) -> usize {
        self.values.len() + self.flags.iter().map(|(_, t)| t.len()).sum::<usize>()
    }

    fn save(&self, stem: &Path) -> PathBuf {
        let path = stem.with_extension("json");
        let flags: Vec<_> = self
            .flags
            .iter()
            .map(|(k, t)| json!([k.flag(), t]))
            .collect();
        let text = serde_json::to_string_pretty(&json!({"flags": flags, "values": self.values}));
        std::fs::write(&path, text.unwrap()).unwrap();
        path
    }

    fn load(path: &Path) -> SetCase {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let kind = |f: &str| match f {
            "--set-string" => SetKind::String,
            "--set-json" => SetKind::Json,
            _ => SetKind::Auto,
        };
        SetCase {
            flags: v["flags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| (kind(f[0].as_str().unwrap()), f[1].as_str().unwrap().into()))
                .collect(),
            values: v["values"].as_str().unwrap().into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Manifests: what `kiln lint` and `kiln check` read
// ---------------------------------------------------------------------------------------------

struct LintTarget;

/// The embedded schemas, shared by every case (compiled validators are cached in it).
fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::new(vec![check::schema::embedded()]))
}

impl BytesTarget for LintTarget {
    const EXT: &'static str = "yaml";

    fn run(bytes: &[u8]) -> Result<(), Failure> {
        let text = lossy(bytes);
        fast_reader_agrees(&text)?;
        let versions = catalog().versions();
        let (oldest, newest) = (versions[0], versions[versions.len() - 1]);
        // As `kiln lint` reads a file, at the newest version; then as `kiln check` reads
        // rendered output (templates known, `# kiln-ignore:` read), planning an upgrade.
        let plain = check::input::documents("fuzz.yaml", &text, &|_| None);
        let template = |name: &str| Some((Arc::from(name), Arc::from(text.as_str())));
        let rendered = check::input::documents("dev/fuzz.yaml", &text, &template);
        let upgrade = check::Options {
            upgrade_to: Some(newest),
            ..check::Options::default()
        };
        let mut results: Vec<Checked> = Vec::new();
        for (docs, version, options) in [
            (&plain, newest, check::Options::default()),
            (&rendered, oldest, upgrade),
        ] {
            for doc in docs {
                if doc.list_index.is_none_or(|i| i == 0) {
                    locate_agrees(doc.chunk())?;
                }
                results.push(check::check_document(doc, version, catalog(), &options));
            }
        }
        check::flag_duplicates(&mut results);
        for format in [
            kiln::report::Format::Text,
            kiln::report::Format::Junit,
            kiln::report::Format::Json,
            kiln::report::Format::Sarif,
        ] {
            let out = kiln::report::render(&results, format);
            let json_lines: Vec<&str> = match format {
                kiln::report::Format::Json => out.lines().collect(),
                kiln::report::Format::Sarif => vec![out.as_str()],
                _ => Vec::new(),
            };
            for line in json_lines {
                if let Err(e) = serde_json::from_str::<serde_json::Value>(line) {
                    return Err(Failure::wrong(format!(
                        "{format:?} report is not JSON ({e}): {line}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// One case in 20 also goes through `kiln lint -` as raw bytes (not UTF-8 included).
    fn through_binary(bytes: &[u8]) -> Option<Result<(), Failure>> {
        let sum = bytes
            .iter()
            .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(*b)));
        (sum % 20 == 0).then(|| {
            let command = Kiln::new(&["lint", "-"]).command();
            run_binary(command, Some(bytes), "lint").map(|_| ())
        })
    }
}

/// Every path of a tree (segments from the root, the root's empty), with its node, in order.
fn tree_paths(root: &Node) -> Vec<(Vec<String>, &Node)> {
    let mut out = vec![(Vec::new(), root)];
    let mut i = 0;
    while i < out.len() {
        let (path, node) = (out[i].0.clone(), out[i].1);
        let children: Vec<(String, &Node)> = match &node.value {
            Value::Map(m) => m.iter().map(|(k, v)| (k.clone(), v)).collect(),
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
            _ => Vec::new(),
        };
        for (segment, child) in children {
            let mut p = path.clone();
            p.push(segment);
            out.push((p, child));
        }
        i += 1;
    }
    out
}

/// Where the emitter says it wrote each node (how `kiln check` places findings in rendered
/// output) is where the parser finds it in that text, on every path and a missing child of each,
/// whenever the emitter's places answer; and recording them changes no byte of the text.
fn placed_agrees(tree: &Node) -> Result<(), Failure> {
    let (text, placed) = yaml::placed::emit_placed(tree).map_err(Failure::wrong)?;
    if Ok(&text) != yaml::emit(tree).as_ref() {
        return Err(Failure::wrong("emit_placed wrote other text than emit"));
    }
    // Every path, and a missing child of each.
    let all: Vec<Vec<String>> = tree_paths(tree)
        .into_iter()
        .flat_map(|(path, _)| {
            let mut missing = path.clone();
            missing.push("\u{1}missing".to_string());
            [path, missing]
        })
        .collect();
    let Some(spots) = yaml::locate(&text, &all) else {
        return Ok(());
    };
    for (path, spot) in all.iter().zip(spots) {
        let want = spot.pointed(path.is_empty());
        if let Some(got) = placed.spots(tree, &text, std::slice::from_ref(path))
            && (got[0].line, got[0].col, got[0].offset) != (want.line, want.col, want.offset)
        {
            return Err(Failure::wrong(format!(
                "the emitter places {path:?} at {}:{}; the parser finds it at {}:{} in\n{text}",
                got[0].line, got[0].col, want.line, want.col
            )));
        }
    }
    Ok(())
}

/// Manifests read by kiln's fast reader (parser events, no serde) are the trees serde-saphyr
/// reads, and the errors are serde-saphyr's: for the whole text and for each document alone.
fn fast_reader_agrees(text: &str) -> Result<(), Failure> {
    let fast = yaml::parse_stream_unlocated(text, Dialect::Kube);
    let reference = yaml::parse_stream_unlocated_by_serde(text, Dialect::Kube);
    let same = match (&fast, &reference) {
        (Ok(a), Ok(b)) => a == b,
        (Err(a), Err(b)) => a.message == b.message,
        _ => false,
    };
    if !same {
        return Err(Failure::wrong(format!(
            "the fast reader gives {fast:?}; serde-saphyr gives {reference:?}"
        )));
    }
    Ok(())
}

/// Every manifest of the corpus and of golden/ that the line reader reads (it leaves the rest to
/// the parser) is the tree serde-saphyr reads; every golden file, kiln's own output, is read so.
#[test]
fn the_line_reader_reads_manifests_as_serde_saphyr_does() {
    let mut golden = read_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("golden"));
    golden.retain(|s| Path::new(&s.name).extension().is_some_and(|e| e == "yaml"));
    let mut read = 0;
    for (seed, golden) in corpus()
        .manifests
        .iter()
        .map(|s| (s, false))
        .chain(golden.iter().map(|s| (s, true)))
    {
        let Ok(text) = std::str::from_utf8(&seed.bytes) else {
            continue;
        };
        match yaml::read_by_lines(text) {
            Some(docs) => {
                let reference = yaml::parse_stream_unlocated_by_serde(text, Dialect::Kube);
                assert_eq!(
                    Ok(&docs),
                    reference.as_ref().map_err(|e| &e.message),
                    "{}",
                    seed.name
                );
                read += 1;
            }
            None => assert!(
                !golden,
                "{} is kiln's output, not read line by line",
                seed.name
            ),
        }
    }
    assert!(read > 0, "the line reader read none of the corpus");
}

/// Where `yaml::locate` finds each path of a document (the walk that places findings without a
/// located tree) is where the located tree has it, on every path, when the walk answers.
fn locate_agrees(text: &str) -> Result<(), Failure> {
    let Ok(tree) = yaml::parse(text, 0, Dialect::Kube) else {
        return Ok(());
    };
    let all: Vec<(Vec<String>, Loc, Loc)> = tree_paths(&tree)
        .into_iter()
        .map(|(p, n)| (p, n.loc, n.key_loc))
        .collect();
    let wanted: Vec<Vec<String>> = all.iter().map(|(p, _, _)| p.clone()).collect();
    let Some(spots) = yaml::locate(text, &wanted) else {
        return Ok(());
    };
    for ((path, loc, key_loc), spot) in all.iter().zip(&spots) {
        if !spot.found || spot.loc != *loc || (!path.is_empty() && spot.key_loc != *key_loc) {
            return Err(Failure::wrong(format!(
                "yaml::locate puts {path:?} at {spot:?}; the located tree at {loc:?} (key {key_loc:?})"
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Templates and values, through the real binary
// ---------------------------------------------------------------------------------------------

/// One environment of the example fleet, with its cluster (ingress and filebeat settings).
const KILN_YAML: &str = "\
environments:
  dev:
    namespace: dev
    kubeVersion: \"1.35\"
    cluster: aliyun-hz-dev
";

/// The example fleet's files a small project copies (two services: one with a variant and a
/// Eureka client, and the Eureka server it needs).
const PROJECT_FILES: &[&str] = &[
    "values/defaults.yaml",
    "values/envs/dev.yaml",
    "values/services/order-service.yaml",
    "values/services/eureka.yaml",
    "values/services/eureka.dev.yaml",
];

/// What odd template file names are made of (anything but `/` and NUL).
#[rustfmt::skip]
const FILE_NAME_PARTS: &[&str] = &[
    "\n", "\r", "\r\n", "\u{85}", "\u{2028}", "\u{1b}[0m", "\t", " ", "# x", ": ", "---", "'", "\"",
    "\\", "日本語", "\u{feff}", "\u{fffe}", "{{ x }}", "(", ")", "..", "-",
];

/// A template a set can gain without clashing with the objects it already renders.
const EXTRA_TEMPLATE: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ service.name ~ \"-extra\" }}
  namespace: {{ env.namespace }}
data:
  port: {{ values.port }}
";

/// A small project with one or more files mutated (a template, a values layer, `kiln.yaml`),
/// and the kiln command to run on it.
#[derive(Clone, Debug)]
struct RenderCase {
    files: Vec<(String, Vec<u8>)>,
    args: Vec<String>,
    /// Indexes into `files` of the mutated files (the ones shrinking cuts).
    mutated: Vec<usize>,
}

impl RenderCase {
    fn generate(rng: &mut Rng) -> RenderCase {
        let c = corpus();
        let mut files: Vec<(String, Vec<u8>)> = vec![("kiln.yaml".into(), KILN_YAML.into())];
        files.extend(c.project.iter().map(|s| (s.name.clone(), s.bytes.clone())));
        let mut mutated = Vec::new();
        let mut args: Vec<String> = match rng.below(20) {
            0..12 => vec!["render".into(), "--stdout".into()],
            12..17 => vec!["check".into()],
            _ => vec![
                "values".into(),
                "order-service".into(),
                "--env".into(),
                "dev".into(),
            ],
        };
        while mutated.is_empty() {
            if rng.chance(60) {
                // A template (or values schema, or set defaults) in place of a built-in one; now
                // and then a Helm template under a built-in name.
                let target = rng.pick(&c.templates).clone();
                let seed = if rng.chance(15) {
                    rng.pick(&c.helm).clone()
                } else {
                    target.clone()
                };
                let most = gentle(rng);
                let mut text = mutate_up_to(rng, &seed.bytes, &c.template_donors, most);
                let mut name = target.name.clone();
                // Now and then one more template of the set, under an odd file name (it reaches
                // the output's `# Source:` lines), rendering one more object.
                if let Some((set, _)) = target.name.rsplit_once('/')
                    && rng.chance(10)
                {
                    let odd: String = (0..=rng.below(2))
                        .map(|_| *rng.pick(FILE_NAME_PARTS))
                        .collect();
                    name = format!("{set}/x{odd}.yaml.j2");
                    text = EXTRA_TEMPLATE.into();
                    if rng.chance(50) {
                        text = mutate(rng, &text, &c.template_donors);
                    }
                }
                if rng.chance(90) {
                    text = lossy(&text).into_bytes();
                }
                files.push((format!("templates/{name}"), text));
                mutated.push(files.len() - 1);
            }
            for (i, (_, bytes)) in files.iter_mut().enumerate() {
                // `kiln.yaml` (file 0) less often: most of its mutations stop at the config.
                let p = if i == 0 { 8 } else { 15 };
                if !mutated.contains(&i) && rng.chance(p) {
                    let most = gentle(rng);
                    let mut text = mutate_up_to(rng, bytes, &c.yaml, most);
                    if rng.chance(90) {
                        text = lossy(&text).into_bytes();
                    }
                    *bytes = text;
                    mutated.push(i);
                }
            }
        }
        if rng.chance(15) && args[0] != "values" {
            for _ in 0..=rng.below(2) {
                let seed = rng.pick(SET_SEEDS);
                args.push("--set".into());
                // An argument cannot hold NUL.
                args.push(lossy(&mutate(rng, seed.as_bytes(), &c.set)).replace('\0', ""));
            }
        }
        RenderCase {
            files,
            args,
            mutated,
        }
    }
}

/// Most render cases get a single mutation, so that more of them render and reach the output
/// checks; the rest get up to four.
fn gentle(rng: &mut Rng) -> usize {
    if rng.chance(60) { 1 } else { 4 }
}

impl Case for RenderCase {
    fn run(&self) -> Result<(), Failure> {
        let dir = tempfile::tempdir().unwrap();
        for (rel, bytes) in &self.files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        let command = Kiln::new(&self.args).project(dir.path()).command();
        let (code, stdout) = run_binary(command, None, "render")?;
        // What kiln prints as YAML is YAML (the escaping promise of R7).
        if code == 0 && self.args[0] != "check" {
            let text = String::from_utf8_lossy(&stdout);
            if let Err(e) = yaml::parse_stream(&text, 0, Dialect::Kube) {
                return Err(Failure::wrong(format!(
                    "`kiln {}` exited 0 but printed invalid YAML ({}, line {})",
                    self.args.join(" "),
                    e.message,
                    e.line
                )));
            }
        }
        Ok(())
    }

    fn shrink(&self) -> Vec<RenderCase> {
        let mut out = Vec::new();
        for &i in &self.mutated {
            for cut in shrink_bytes(&self.files[i].1).into_iter().take(60) {
                let mut c = self.clone();
                c.files[i].1 = cut;
                out.push(c);
            }
        }
        out
    }

    fn size(&self) -> usize {
        self.mutated.iter().map(|&i| self.files[i].1.len()).sum()
    }

    /// As JSON (the fixture format: file names may hold any character) and, to run kiln on by
    /// hand, as a project folder beside it.
    fn save(&self, stem: &Path) -> PathBuf {
        let _ = std::fs::remove_dir_all(stem);
        for (rel, bytes) in &self.files {
            let path = stem.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        let files: Vec<serde_json::Value> = self
            .files
            .iter()
            .map(|(rel, bytes)| match std::str::from_utf8(bytes) {
                Ok(text) => json!({"path": rel, "text": text}),
                Err(_) => json!({"path": rel, "bytes": bytes}),
            })
            .collect();
        let mutated: Vec<&str> = self
            .mutated
            .iter()
            .map(|&i| self.files[i].0.as_str())
            .collect();
        let case = json!({"args": self.args, "mutated": mutated, "files": files});
        let path = stem.with_extension("json");
        std::fs::write(&path, serde_json::to_string_pretty(&case).unwrap()).unwrap();
        path
    }

    fn load(path: &Path) -> RenderCase {
        let case: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let str = |v: &serde_json::Value| v.as_str().unwrap().to_string();
        let files: Vec<(String, Vec<u8>)> = case["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let bytes = match f.get("text") {
                    Some(t) => str(t).into_bytes(),
                    None => serde_json::from_value(f["bytes"].clone()).unwrap(),
                };
                (str(&f["path"]), bytes)
            })
            .collect();
        let names: Vec<String> = case["mutated"]
            .as_array()
            .unwrap()
            .iter()
            .map(str)
            .collect();
        let mutated = (0..files.len())
            .filter(|&i| names.contains(&files[i].0))
            .collect();
        RenderCase {
            files,
            args: case["args"].as_array().unwrap().iter().map(str).collect(),
            mutated,
        }
    }
}

/// Run the kiln binary (`KILN_RENDER_DEADLINE=2`, killed after [`HANG`]). A panic, a signal, an
/// exit code kiln does not document or output that is not UTF-8 is a failure; otherwise the
/// exit code and stdout.
fn run_binary(
    mut command: std::process::Command,
    stdin: Option<&[u8]>,
    what: &str,
) -> Result<(i32, Vec<u8>), Failure> {
    command
        .env("KILN_RENDER_DEADLINE", "2")
        .env_remove("RUST_BACKTRACE")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("run kiln");
    let writer = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().unwrap();
        let bytes = bytes.to_vec();
        // kiln may stop reading early: not a failure of this case.
        std::thread::spawn(move || drop(pipe.write_all(&bytes)))
    });
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Failure {
                kind: Kind::Hang,
                message: format!("kiln {what} still running after {} s", HANG.as_secs()),
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    let stderr_text = String::from_utf8_lossy(&stderr);
    let Some(code) = status.code() else {
        return Err(Failure::panic(format!(
            "kiln {what} was killed by a signal ({status}): {stderr_text}"
        )));
    };
    if code == 101 || stderr_text.contains("panicked") || stderr_text.contains("hit a bug") {
        return Err(Failure::panic(format!(
            "kiln {what} panicked (exit {code}): {stderr_text}"
        )));
    }
    if !(0..=2).contains(&code) {
        return Err(Failure::wrong(format!(
            "kiln {what} exited {code}: {stderr_text}"
        )));
    }
    if std::str::from_utf8(&stdout).is_err() || std::str::from_utf8(&stderr).is_err() {
        return Err(Failure::wrong(format!(
            "kiln {what} printed text that is not UTF-8: {stderr_text}"
        )));
    }
    Ok((code, stdout))
}

// ---------------------------------------------------------------------------------------------
// The YAML emitter: random trees out and back in, exactly
// ---------------------------------------------------------------------------------------------

/// Strings that YAML readers like to turn into something else.
#[rustfmt::skip]
const NASTY: &[&str] = &[
    "on", "yes", "no", "y", "n", "off", "true", "False", "NULL", "~", "null", "Yes", "ON", "0755",
    "0o17", "0x1F", "0b101", "1_000", "1e3", "1.10", ".inf", "-.inf", ".nan", "+1", "-0", "00",
    "123", "1:20", "12:30:45", "2001-12-14", "-9223372036854775809", "99999999999999999999", "---",
    "...", "--- x", "#", "# c", "a #b", "a: b", ": ", "- ", "-", "? x", "[", "]", "{", "}",
    "{a: b}", "[a]", "&a", "*a", "<<", "<<: *a", "!!str", "!tag", "%YAML 1.2", "@x", "`x`", "|",
    "|-", ">", ">-", "\"", "'", "\\", "\\n", "=", ",", "%", "{{ x }}", "\t", "\n", "\r\n", "\r",
    " ", "  lead", "trail ", "a\n\nb", "\n\n", " \n", "x\n ", "\n x", "- a\n- b", "日本語", "中文：键",
    "\u{3000}", "\u{ff1a}", "\u{201c}smart\u{201d}", "\u{2018}", "\u{feff}", "\u{feff}bom",
    "\u{fffe}", "\u{ffff}", "\u{0}", "\u{7}", "\u{8}", "\u{b}", "\u{c}", "\u{1b}[31m", "\u{7f}",
    "\u{80}", "\u{85}", "\u{9f}", "\u{a0}", "\u{2028}", "\u{2029}", "\u{200b}", "\u{202e}",
    "\u{d7ff}", "\u{e000}", "🙂", "e\u{301}", "\u{10ffff}",
];

/// Documents to emit with `manifest::to_yaml` (the writer of every rendered file) and read back.
#[derive(Clone, Debug)]
struct EmitCase {
    docs: Vec<Node>,
}

impl Case for EmitCase {
    fn run(&self) -> Result<(), Failure> {
        for doc in &self.docs {
            round_trip(doc, Dialect::Values, true)?;
            round_trip(doc, Dialect::Kube, true)?;
            placed_agrees(doc)?;
        }
        // As kiln writes rendered files: each object under `# Source:`, separated by `---`.
        let manifests: Vec<kiln::manifest::Manifest> = self
            .docs
            .iter()
            .enumerate()
            .map(|(i, d)| object(i, d))
            .collect();
        let (text, places) = kiln::manifest::to_yaml(&manifests, true)
            .map_err(|e| Failure::wrong(format!("to_yaml failed: {e}")))?;
        let back = yaml::parse_stream(&text, 0, Dialect::Kube)
            .map_err(|e| Failure::wrong(format!("output does not parse: {e}\n{text}")))?;
        if back.len() != manifests.len() {
            return Err(Failure::wrong(format!(
                "{} objects written, {} read back:\n{text}",
                manifests.len(),
                back.len()
            )));
        }
        for ((m, b), &(start, _, end)) in manifests.iter().zip(&back).zip(&places) {
            same(&m.doc, b, true, &mut String::new()).map_err(Failure::wrong)?;
            if !(text.is_char_boundary(start) && text.is_char_boundary(end) && start <= end) {
                return Err(Failure::wrong(format!(
                    "place {start}..{end} is not in the text"
                )));
            }
        }
        Ok(())
    }

    fn shrink(&self) -> Vec<EmitCase> {
        let mut out = Vec::new();
        if self.docs.len() > 1 {
            for i in 0..self.docs.len() {
                out.push(EmitCase {
                    docs: vec![self.docs[i].clone()],
                });
            }
        }
        for (i, doc) in self.docs.iter().enumerate() {
            for smaller in shrink_node(doc) {
                let mut c = self.clone();
                c.docs[i] = smaller;
                out.push(c);
            }
        }
        out
    }

    fn size(&self) -> usize {
        self.docs.iter().map(node_size).sum()
    }

    fn save(&self, stem: &Path) -> PathBuf {
        let path = stem.with_extension("json");
        let docs: Vec<_> = self.docs.iter().map(node_json).collect();
        std::fs::write(&path, serde_json::to_string_pretty(&docs).unwrap()).unwrap();
        // The emitted text too, to read without running anything.
        let emitted: String = self
            .docs
            .iter()
            .map(|d| yaml::emit(d).unwrap_or_else(|e| format!("# emit failed: {e}\n")))
            .collect::<Vec<_>>()
            .join("---\n");
        std::fs::write(stem.with_extension("emitted.yaml"), emitted).unwrap();
        path
    }

    fn load(path: &Path) -> EmitCase {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        EmitCase {
            docs: v.as_array().unwrap().iter().map(json_node).collect(),
        }
    }
}

/// `doc` as the `data` of a ConfigMap (a Kubernetes object `to_yaml` can name).
fn object(i: usize, doc: &Node) -> kiln::manifest::Manifest {
    let leaf = |v: &str| Node::new(Value::Str(v.into()), Loc::default());
    let mut meta = Map::default();
    meta.insert("name".to_string(), leaf(&format!("o{i}")));
    let mut map = Map::default();
    map.insert("apiVersion".to_string(), leaf("v1"));
    map.insert("kind".to_string(), leaf("ConfigMap"));
    map.insert(
        "metadata".to_string(),
        Node::new(Value::Map(meta), Loc::default()),
    );
    map.insert("data".to_string(), doc.clone());
    let doc = Node::new(Value::Map(map), Loc::default());
    kiln::manifest::Manifest {
        id: kiln::manifest::ResourceId::of(&doc).unwrap(),
        doc,
        origin: Arc::new(kiln::manifest::Origin {
            template: "web/cm.yaml.j2".into(),
            template_shown: "templates/web/cm.yaml.j2".into(),
            env: "dev".into(),
            instance: format!("svc-{i}"),
        }),
    }
}

/// Emit `node` and read it back in `dialect`: the same value, string keys staying strings
/// (`keys`: false for trees read from text, whose non-string keys become strings on purpose).
fn round_trip(node: &Node, dialect: Dialect, keys: bool) -> Result<(), Failure> {
    let text = yaml::emit(node).map_err(|e| Failure::wrong(format!("emit failed: {e}")))?;
    let back = yaml::parse(&text, 0, dialect).map_err(|e| {
        Failure::wrong(format!(
            "emitted YAML does not parse ({dialect:?}): {} at line {}\n{text}",
            e.message, e.line
        ))
    })?;
    same(node, &back, keys, &mut String::new())
        .map_err(|e| Failure::wrong(format!("{dialect:?} round trip: {e}\nemitted:\n{text}")))
}

/// Exact equality of values (floats bit for bit, NaN equal to NaN), ignoring locations.
fn same(a: &Node, b: &Node, keys: bool, path: &mut String) -> Result<(), String> {
    let differ = || format!("at `{path}`: {:?} came back as {:?}", a.value, b.value);
    match (&a.value, &b.value) {
        (Value::Float(x), Value::Float(y)) => {
            if x.to_bits() != y.to_bits() && !(x.is_nan() && y.is_nan()) {
                return Err(differ());
            }
        }
        (Value::Seq(xs), Value::Seq(ys)) => {
            if xs.len() != ys.len() {
                return Err(differ());
            }
            for (i, (x, y)) in xs.iter().zip(ys).enumerate() {
                let len = path.len();
                let _ = write!(path, "[{i}]");
                same(x, y, keys, path)?;
                path.truncate(len);
            }
        }
        (Value::Map(xs), Value::Map(ys)) => {
            if xs.len() != ys.len() || xs.keys().zip(ys.keys()).any(|(k, l)| k != l) {
                return Err(differ());
            }
            for ((k, x), y) in xs.iter().zip(ys.values()) {
                let len = path.len();
                let _ = write!(path, ".{k:?}");
                if keys && x.key_was_string != y.key_was_string {
                    return Err(format!(
                        "at `{path}`: the string key came back as a non-string"
                    ));
                }
                same(x, y, keys, path)?;
                path.truncate(len);
            }
        }
        (x, y) => {
            if x != y {
                return Err(differ());
            }
        }
    }
    Ok(())
}

fn gen_string(rng: &mut Rng) -> String {
    let mut s = String::new();
    for _ in 0..rng.below(4) {
        match rng.below(4) {
            0 | 1 => s.push_str(rng.pick::<&str>(NASTY)),
            2 => {
                for _ in 0..=rng.below(6) {
                    s.push(gen_char(rng));
                }
            }
            _ => s.push_str(rng.pick::<&str>(&["name", "a b", "x", "value", "9", "-", " ", "."])),
        }
    }
    if rng.chance(3) {
        s = s.repeat(50 + rng.below(200));
    }
    s
}

fn gen_char(rng: &mut Rng) -> char {
    let ranges: &[(u32, u32)] = &[
        (0x20, 0x7e),
        (0x0, 0x1f),
        (0x7f, 0xa0),
        (0x4e00, 0x9fff),
        (0xfff0, 0xffff),
        (0x2000, 0x206f),
        (0xff00, 0xffef),
        (0x1_f300, 0x1_f6ff),
        (0xe_0000, 0x10_ffff),
    ];
    let (lo, hi) = *rng.pick(ranges);
    let c = lo + u32::try_from(rng.below((hi - lo + 1) as usize)).unwrap_or(0);
    char::from_u32(c).unwrap_or('\u{fffd}')
}

fn gen_node(rng: &mut Rng, depth: usize) -> Node {
    let leaf_only = depth >= 4;
    let value = match rng.below(if leaf_only { 6 } else { 9 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(50)),
        2 => Value::Int(match rng.below(3) {
            0 => *rng.pick(&[
                0,
                -1,
                1,
                i64::MIN,
                i64::MAX,
                0o755,
                1_000,
                1 << 53,
                (1 << 53) + 1,
            ]),
            1 => i64::from_ne_bytes(rng.next().to_ne_bytes()),
            _ => i64::try_from(rng.below(100_000)).unwrap_or(0),
        }),
        // Finite only: both readers refuse `.inf` and `.nan` and JSON has neither, so no tree
        // kiln emits holds one.
        3 => Value::Float(match rng.below(3) {
            0 => *rng.pick(&[
                0.0,
                -0.0,
                0.1,
                1.5,
                1e20,
                1e-300,
                1e300,
                f64::MAX,
                f64::MIN_POSITIVE,
                f64::EPSILON,
                9_007_199_254_740_993.0,
                123_456_789_012_345_680_000.0,
            ]),
            1 => Some(f64::from_bits(rng.next()))
                .filter(|f| f.is_finite())
                .unwrap_or(0.5),
            _ => f64::from(u32::try_from(rng.below(10_000)).unwrap_or(0)) / 8.0,
        }),
        4 | 5 => Value::Str(gen_string(rng)),
        6 | 7 => Value::Map(
            (0..rng.below(5))
                .map(|_| (gen_string(rng), gen_node(rng, depth + 1)))
                .collect(),
        ),
        _ => Value::Seq(
            (0..rng.below(5))
                .map(|_| gen_node(rng, depth + 1))
                .collect(),
        ),
    };
    Node::new(value, Loc::default())
}

/// Trees parsed from the seeds (as `kiln lint` reads them), to carry planted strings.
fn realistic_trees() -> &'static [Node] {
    static TREES: OnceLock<Vec<Node>> = OnceLock::new();
    TREES.get_or_init(|| {
        corpus()
            .manifests
            .iter()
            .filter_map(|s| yaml::parse_stream(&lossy(&s.bytes), 0, Dialect::Kube).ok())
            .flatten()
            .map(|n| strip(&n))
            .collect()
    })
}

/// A tree with default locations and string keys, as kiln builds the trees it emits.
fn strip(node: &Node) -> Node {
    let value = match &node.value {
        Value::Seq(items) => Value::Seq(items.iter().map(strip).collect()),
        Value::Map(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), strip(v))).collect()),
        v => v.clone(),
    };
    Node::new(value, Loc::default())
}

/// Replace a few leaves and keys of `tree` with nasty strings.
fn plant_nasty(rng: &mut Rng, tree: &mut Node) {
    match &mut tree.value {
        Value::Map(m) => {
            let n = m.len();
            if n > 0 && rng.chance(10) {
                let i = rng.below(n);
                let (_, v) = m.shift_remove_index(i).unwrap();
                m.insert(gen_string(rng), v);
            }
            for v in m.values_mut() {
                plant_nasty(rng, v);
            }
        }
        Value::Seq(items) => items.iter_mut().for_each(|v| plant_nasty(rng, v)),
        _ if rng.chance(20) => tree.value = Value::Str(gen_string(rng)),
        _ => {}
    }
}

fn node_size(node: &Node) -> usize {
    match &node.value {
        Value::Str(s) => 1 + s.len(),
        Value::Seq(items) => 1 + items.iter().map(node_size).sum::<usize>(),
        Value::Map(m) => 1 + m.iter().map(|(k, v)| k.len() + node_size(v)).sum::<usize>(),
        _ => 1,
    }
}

/// Smaller trees: a child in place of its container, an entry dropped, a string halved.
fn shrink_node(node: &Node) -> Vec<Node> {
    let mut out = Vec::new();
    let with = |value: Value| Node::new(value, Loc::default());
    match &node.value {
        Value::Seq(items) => {
            out.extend(items.iter().cloned());
            for i in 0..items.len() {
                let mut fewer = items.clone();
                fewer.remove(i);
                out.push(with(Value::Seq(fewer)));
                for smaller in shrink_node(&items[i]) {
                    let mut c = items.clone();
                    c[i] = smaller;
                    out.push(with(Value::Seq(c)));
                }
            }
        }
        Value::Map(m) => {
            out.extend(m.values().cloned());
            for i in 0..m.len() {
                let mut fewer = m.clone();
                fewer.shift_remove_index(i);
                out.push(with(Value::Map(fewer)));
                let (k, v) = m.get_index(i).unwrap();
                for cut in shrink_bytes(k.as_bytes()).into_iter().take(8) {
                    let key = lossy(&cut);
                    if !m.contains_key(&key) {
                        let mut c = m.clone();
                        c.insert(key, v.clone());
                        c.swap_remove(k);
                        out.push(with(Value::Map(c)));
                    }
                }
                for smaller in shrink_node(v) {
                    let mut c = m.clone();
                    c[i] = smaller;
                    out.push(with(Value::Map(c)));
                }
            }
        }
        Value::Str(s) => {
            for cut in shrink_bytes(s.as_bytes()) {
                out.push(with(Value::Str(lossy(&cut))));
            }
        }
        _ => {}
    }
    out
}

/// A node as JSON that keeps what JSON cannot (integer vs float, NaN, infinities).
fn node_json(node: &Node) -> serde_json::Value {
    match &node.value {
        Value::Null => json!({"null": null}),
        Value::Bool(b) => json!({"bool": b}),
        Value::Int(i) => json!({"int": i}),
        Value::Float(f) => json!({"float_bits": f.to_bits(), "approx": f.to_string()}),
        Value::Str(s) => json!({"str": s}),
        Value::Seq(items) => json!({"seq": items.iter().map(node_json).collect::<Vec<_>>()}),
        Value::Map(m) => {
            json!({"map": m.iter().map(|(k, v)| json!([k, node_json(v)])).collect::<Vec<_>>()})
        }
    }
}

fn json_node(v: &serde_json::Value) -> Node {
    let value = if let Some(b) = v.get("bool") {
        Value::Bool(b.as_bool().unwrap())
    } else if let Some(i) = v.get("int") {
        Value::Int(i.as_i64().unwrap())
    } else if let Some(f) = v.get("float_bits") {
        Value::Float(f64::from_bits(f.as_u64().unwrap()))
    } else if let Some(s) = v.get("str") {
        Value::Str(s.as_str().unwrap().into())
    } else if let Some(items) = v.get("seq") {
        Value::Seq(items.as_array().unwrap().iter().map(json_node).collect())
    } else if let Some(entries) = v.get("map") {
        Value::Map(
            entries
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (e[0].as_str().unwrap().to_string(), json_node(&e[1])))
                .collect(),
        )
    } else {
        Value::Null
    };
    Node::new(value, Loc::default())
}

// ---------------------------------------------------------------------------------------------
// Secrets and excerpts on arbitrary text and ranges
// ---------------------------------------------------------------------------------------------

/// A text and a place in it that may be anywhere (inside a character, reversed, past the end).
#[derive(Clone, Debug)]
struct TextCase {
    text: String,
    start: usize,
    end: usize,
    split: usize,
    line: u32,
    col: u32,
}

impl Case for TextCase {
    fn run(&self) -> Result<(), Failure> {
        let text = &self.text;
        let range = self.start..self.end;
        let e = Excerpt::from_text("values/fuzz.yaml", text, range.clone(), "here");
        let bad = !(e.range.start <= e.range.end
            && e.range.end <= e.text.len()
            && e.text.is_char_boundary(e.range.start)
            && e.text.is_char_boundary(e.range.end))
            || e.line == 0
            || e.col == 0
            || e.line_start == 0;
        if bad {
            return Err(Failure::wrong(format!(
                "excerpt out of shape: range {:?} in {} bytes, line {} col {} from {}",
                e.range,
                e.text.len(),
                e.line,
                e.col,
                e.line_start
            )));
        }
        shown(&Diagnostic::error("fuzz").with_excerpt(e));
        // Excerpts from a location only a parser's line and column say.
        let mut sources = Sources::default();
        let src = sources.add("values/fuzz.yaml", text.clone());
        let loc = Loc {
            src,
            line: self.line,
            col: self.col,
            offset: u32::try_from(self.start).unwrap_or(u32::MAX),
            len: u32::try_from(self.end.saturating_sub(self.start)).unwrap_or(0),
        };
        shown(&Diagnostic::error("fuzz").at(&sources, loc, "here"));
        shown(&Diagnostic::error("fuzz").at(
            &sources,
            Loc {
                len: 0,
                offset: 0,
                ..loc
            },
            "x",
        ));
        let mut split = self.split.min(text.len());
        while !text.is_char_boundary(split) {
            split -= 1;
        }
        let (context, window) = text.split_at(split);
        // Its one caller (`Excerpt::from_text`) passes an ordered range.
        let ordered = self.start.min(self.end)..self.start.max(self.end);
        let (out, r) = kiln::secret::redact_lines(context, window, ordered);
        if r.start > r.end || r.end > out.len() {
            return Err(Failure::wrong(format!(
                "redact_lines gave range {r:?} in {} bytes",
                out.len()
            )));
        }
        let _ = kiln::secret::mask_url_password(text);
        for line in text.lines().take(200) {
            let _ = kiln::secret::is_secret_key(line);
            let _ = kiln::secret::mask_url_password(line);
        }
        if let Ok(docs) = yaml::parse_stream(text, 0, Dialect::Kube) {
            for doc in docs.iter().take(20) {
                let mut redacted = doc.clone();
                kiln::secret::redact(&mut redacted);
                let _ = kiln::secret::redact_pair(doc, &redacted);
                let _ = kiln::secret::hide_secrets(text.clone(), &kiln::secret::secrets_in(doc));
                let held: HashSet<String> = kiln::secret::held_by_secret(doc).into_iter().collect();
                let mut matched = doc.clone();
                kiln::secret::redact_matching(&mut matched, &held);
            }
        }
        Ok(())
    }

    fn shrink(&self) -> Vec<TextCase> {
        shrink_bytes(self.text.as_bytes())
            .into_iter()
            .map(|cut| TextCase {
                text: lossy(&cut),
                ..self.clone()
            })
            .collect()
    }

    fn size(&self) -> usize {
        self.text.len()
    }

    fn save(&self, stem: &Path) -> PathBuf {
        let path = stem.with_extension("json");
        let v = json!({"text": self.text, "start": self.start, "end": self.end,
            "split": self.split, "line": self.line, "col": self.col});
        std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
        path
    }

    fn load(path: &Path) -> TextCase {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let n = |k: &str| usize::try_from(v[k].as_u64().unwrap()).unwrap();
        TextCase {
            text: v["text"].as_str().unwrap().into(),
            start: n("start"),
            end: n("end"),
            split: n("split"),
            line: u32::try_from(n("line")).unwrap(),
            col: u32::try_from(n("col")).unwrap(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Seeds
// ---------------------------------------------------------------------------------------------

/// One seed input.
#[derive(Clone, Debug)]
struct Seed {
    /// Path relative to its root (for templates: to `templates/`).
    name: String,
    bytes: Vec<u8>,
}

/// The seeds of every target, read once.
struct Corpus {
    /// Every YAML file: values, manifests, golden files, set defaults.
    yaml: Vec<Seed>,
    /// The repository's values layers.
    values: Vec<Seed>,
    /// Manifests: the shared corpus and golden/.
    manifests: Vec<Seed>,
    /// Every file of the repository's templates/, named relative to it.
    templates: Vec<Seed>,
    /// Helm templates from the shared corpus.
    helm: Vec<Seed>,
    /// What mutations splice into templates: templates, Helm templates, values.
    template_donors: Vec<Seed>,
    /// `--set` flags.
    set: Vec<Seed>,
    /// Everything.
    all: Vec<Seed>,
    /// The example fleet's files a render case starts from.
    project: Vec<Seed>,
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let is_yaml = |s: &Seed| {
            Path::new(&s.name)
                .extension()
                .is_some_and(|e| e == "yaml" || e == "yml")
        };
        let shared = shared("corpus");
        let mut corpus_files = shared.as_deref().map(read_tree).unwrap_or_default();
        corpus_files.retain(|s| {
            Path::new(&s.name)
                .extension()
                .is_none_or(|e| e != "md" && e != "tsv")
        });
        let (helm, real): (Vec<Seed>, Vec<Seed>) = corpus_files
            .into_iter()
            .partition(|s| s.name.starts_with("real-helm-templates/"));
        let values = read_tree(&repo.join("values"));
        let golden = read_tree(&repo.join("golden"));
        let templates = read_tree(&repo.join("templates"));
        let mut manifests = real;
        manifests.extend(golden.iter().cloned());
        let mut yaml: Vec<Seed> = values.clone();
        yaml.extend(manifests.iter().filter(|s| is_yaml(s)).cloned());
        yaml.extend(templates.iter().filter(|s| is_yaml(s)).cloned());
        yaml.extend(helm.iter().filter(|s| is_yaml(s)).cloned());
        let mut template_donors = templates.clone();
        template_donors.extend(helm.iter().cloned());
        template_donors.extend(values.iter().cloned());
        let set = SET_SEEDS
            .iter()
            .chain(SET_JSON_SEEDS)
            .map(|s| Seed {
                name: "--set".into(),
                bytes: s.as_bytes().to_vec(),
            })
            .collect();
        let mut all = yaml.clone();
        all.extend(templates.iter().cloned());
        all.extend(helm.iter().cloned());
        let project = PROJECT_FILES
            .iter()
            .map(|rel| Seed {
                name: (*rel).to_string(),
                bytes: std::fs::read(repo.join(rel)).unwrap(),
            })
            .collect();
        let helm = if helm.is_empty() {
            templates.clone()
        } else {
            helm
        };
        Corpus {
            yaml,
            values,
            manifests,
            templates,
            helm,
            template_donors,
            set,
            all,
            project,
        }
    })
}

/// Every file under `root`, named relative to it, in a stable order.
fn read_tree(root: &Path) -> Vec<Seed> {
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| Seed {
            name: e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/"),
            bytes: std::fs::read(e.path()).unwrap(),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The mutator
// ---------------------------------------------------------------------------------------------

/// xorshift64, seeded through splitmix64: small, fast and the same everywhere.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(splitmix(seed) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What a mutation inserts: the characters and tokens that broke kiln or its libraries before,
/// and the punctuation of YAML and Jinja.
#[rustfmt::skip]
const TOKENS: &[&str] = &[
    "日本語", "中文：", "键", "\u{feff}", "\u{0}", "\u{1b}", "\u{7f}", "\u{85}", "\u{a0}", "\u{2028}",
    "\u{fffe}", "\u{ffff}", "\u{200b}", "\u{202e}", "\u{201c}", "\u{201d}", "\u{2018}", "\u{2019}",
    "\u{ff1a}", "\u{ff5b}", "\u{ff5d}", "\u{ff05}", "\u{3000}", "\u{ff0c}", "🙂", "e\u{301}", "{{",
    "}}", "{%", "%}", "{#", "#}", "{{-", "-}}", "{%-", "-%}", ": ", "- ", "---", "...", "--- ",
    "&a ", "*a", "<<: *a\n", "!!str ", "!!binary ", "!!int ", "!t ", "? ", "|\n", "|-\n", ">\n",
    "#", " #", "\"", "'", "\\", "\\u", "\n", "\r\n", "\r", "\t", "  ", "[", "]", "{", "}", ",",
    "%YAML 1.1\n", "%TAG ! x\n", "99999999999999999999999999999", "-9223372036854775808",
    "9223372036854775808", "0x7fffffffffffffff", "0o777", "0755", "0b101", "1_000", "1e999",
    "-.inf", ".nan", "on", "yes", "~", "null", "true", "0:0", "{{ values.replicas }}",
    "{{ service.name }}", "{{ env.namespace }}", "{{ x | to_yaml }}", "{{ values | tojson }}",
    "| indent(4)", "|safe", "{% for i in range(3) %}", "{% endfor %}", "{% if true %}",
    "{% endif %}", "{% else %}", "{% set x = 1 %}", "{% raw %}", "{% endraw %}",
    "{% macro m(a) %}{{ a }}{% endmacro %}", "{{ m(1) }}", "{% include 'x' %}",
    "{% import \"x\" as k %e %}", "{% filter upper %}", "{% endfilter %}", "loop.index",
    "{{ range(999999999) | length }}", "{{ '' ~ ", "(", ")", "|", "${", "{{ .Values.x }}",
    "# kiln-ignore: ", "kind: List\nitems:\n- ", "kind: Secret\n", "apiVersion: v1\n",
    "apiVersion: extensions/v1beta1\n", "kind: Deployment\n", "metadata:\n  name: x\n",
    "password: ", "token: ", "https://user:pass@host/", "data:\n  k: ",
];

/// Bytes a flip may write.
const BYTES: &[u8] = b"\0\x7f\xff\xc3\xa9\xe2\n\r\t :-#\"'{}[]%|>&*!\\?,.~@`=";

/// 1 to 4 mutations of `input`; `donors` give spliced material.
fn mutate(rng: &mut Rng, input: &[u8], donors: &[Seed]) -> Vec<u8> {
    mutate_up_to(rng, input, donors, 4)
}

/// 1 to `most` mutations of `input`.
fn mutate_up_to(rng: &mut Rng, input: &[u8], donors: &[Seed], most: usize) -> Vec<u8> {
    let mut data = input.to_vec();
    for _ in 0..=rng.below(most) {
        mutate_once(rng, &mut data, donors);
    }
    data.truncate(INPUT_CUT.load(Ordering::Relaxed));
    data
}

fn mutate_once(rng: &mut Rng, data: &mut Vec<u8>, donors: &[Seed]) {
    let at = position(rng, data);
    let donor = &rng.pick(donors).bytes;
    match rng.below(14) {
        0 if !data.is_empty() => {
            let i = rng.below(data.len());
            data[i] ^= 1 << rng.below(8);
        }
        1 if !data.is_empty() => {
            let i = rng.below(data.len());
            data[i] = *rng.pick(BYTES);
        }
        2..=5 => insert(data, at, rng.pick(TOKENS).as_bytes()),
        6 => {
            let (s, e) = span(rng, data);
            data.drain(s..e);
        }
        7 => {
            let (s, e) = span(rng, data);
            let copy = data[s..e].to_vec();
            insert(data, at, &copy);
        }
        8 => {
            let (s, e) = span(rng, donor);
            insert(data, at, &donor[s..e]);
        }
        9 => {
            // Crossover: this input's head, a donor's tail.
            let cut = position(rng, donor);
            data.truncate(at);
            data.extend_from_slice(&donor[cut..]);
        }
        10 => {
            // A whole line of the donor, at a line start.
            let lines: Vec<&[u8]> = donor.split_inclusive(|b| *b == b'\n').collect();
            if !lines.is_empty() {
                let line = *rng.pick(&lines);
                let at = line_start(rng, data);
                insert(data, at, line);
            }
        }
        11 => {
            // Indentation changes: YAML's structure.
            let at = line_start(rng, data);
            if rng.chance(50) {
                insert(data, at, &b" ".repeat(1 + rng.below(6)));
            } else {
                let spaces = data[at..].iter().take_while(|b| **b == b' ').count();
                data.drain(at..at + spaces.min(1 + rng.below(4)));
            }
        }
        12 => {
            // Repetition: deep nesting, long runs, many documents.
            let token = *rng.pick(&[
                "[", "{", "- ", "  ", "{{ (", "a: ", "---\n", "&a [*a, ", "9",
            ]);
            let most = if rng.chance(10) { 3000 } else { 100 };
            let n = 1 + rng.below(most);
            insert(data, at, token.repeat(n).as_bytes());
        }
        _ => data.truncate(at),
    }
}

fn insert(data: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    let at = at.min(data.len());
    data.splice(at..at, bytes.iter().copied());
}

/// A position in `data`: usually on a character boundary, sometimes anywhere.
fn position(rng: &mut Rng, data: &[u8]) -> usize {
    let mut at = rng.below(data.len() + 1);
    if rng.chance(85) {
        while at < data.len() && data[at] & 0xc0 == 0x80 {
            at += 1;
        }
    }
    at
}

/// The start of a random line of `data`.
fn line_start(rng: &mut Rng, data: &[u8]) -> usize {
    let at = rng.below(data.len() + 1);
    data[..at]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1)
}

/// A span of `data`, usually short.
fn span(rng: &mut Rng, data: &[u8]) -> (usize, usize) {
    let start = position(rng, data);
    let room = data.len() - start;
    let most = if rng.chance(80) { room.min(32) } else { room };
    let len = rng.below(1 + most);
    (start, start + len)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `bytes` with one chunk removed, for each chunk size from half down to one byte (about 200
/// candidates at most), biggest cuts first.
fn shrink_bytes(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut chunk = bytes.len() / 2;
    while chunk >= 1 && out.len() < 200 {
        for start in (0..bytes.len()).step_by(chunk) {
            let mut v = bytes[..start].to_vec();
            v.extend_from_slice(&bytes[(start + chunk).min(bytes.len())..]);
            out.push(v);
        }
        chunk /= 2;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------------

/// What went wrong with one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A panic (in-process), or a panic, crash or signal of the binary.
    Panic,
    /// Not done within [`HANG`].
    Hang,
    /// The oracle says the result is wrong (round trip, report shape, exit code).
    Wrong,
}

#[derive(Debug, Clone)]
struct Failure {
    kind: Kind,
    message: String,
}

impl Failure {
    fn wrong(message: impl Into<String>) -> Failure {
        Failure {
            kind: Kind::Wrong,
            message: message.into(),
        }
    }

    fn panic(message: impl Into<String>) -> Failure {
        Failure {
            kind: Kind::Panic,
            message: message.into(),
        }
    }
}

/// One fuzz input of a target.
trait Case: Clone + Send + std::fmt::Debug + 'static {
    /// Run it; a panic is caught by the harness, so `Err` is for everything else.
    fn run(&self) -> Result<(), Failure>;
    /// Smaller variants, to keep the first that still fails the same way.
    fn shrink(&self) -> Vec<Self>;
    /// How big it is (for the report).
    fn size(&self) -> usize;
    /// Write it at `stem` (plus an extension, or as a folder); returns the path written.
    fn save(&self, stem: &Path) -> PathBuf;
    /// Read a case [`Case::save`] wrote (a regression fixture).
    fn load(path: &Path) -> Self;
}

/// A target whose input is one text read as bytes.
trait BytesTarget: Send + 'static {
    /// The extension of saved inputs.
    const EXT: &'static str;
    fn run(bytes: &[u8]) -> Result<(), Failure>;
    /// The same input through the binary too, for the cases that are chosen for it.
    fn through_binary(_bytes: &[u8]) -> Option<Result<(), Failure>> {
        None
    }
}

/// The case of a [`BytesTarget`].
struct Bytes<T> {
    bytes: Vec<u8>,
    target: std::marker::PhantomData<fn() -> T>,
}

impl<T> Bytes<T> {
    fn new(bytes: Vec<u8>) -> Self {
        Bytes {
            bytes,
            target: std::marker::PhantomData,
        }
    }
}

impl<T> Clone for Bytes<T> {
    fn clone(&self) -> Self {
        Bytes::new(self.bytes.clone())
    }
}

impl<T> std::fmt::Debug for Bytes<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.bytes))
    }
}

impl<T: BytesTarget> Case for Bytes<T> {
    fn run(&self) -> Result<(), Failure> {
        T::run(&self.bytes)?;
        T::through_binary(&self.bytes).unwrap_or(Ok(()))
    }

    fn shrink(&self) -> Vec<Self> {
        shrink_bytes(&self.bytes)
            .into_iter()
            .map(Bytes::new)
            .collect()
    }

    fn size(&self) -> usize {
        self.bytes.len()
    }

    fn save(&self, stem: &Path) -> PathBuf {
        let path = stem.with_extension(T::EXT);
        std::fs::write(&path, &self.bytes).unwrap();
        path
    }

    fn load(path: &Path) -> Self {
        Bytes::new(std::fs::read(path).unwrap())
    }
}

/// How long and from where a target runs, from the environment.
struct Plan {
    seed: u64,
    cases: u64,
    until: Option<Instant>,
    only: Option<u64>,
    long: bool,
}

impl Plan {
    fn from_env(default_cases: u64) -> Plan {
        let var = |name: &str| -> Option<u64> {
            let v = std::env::var(name).ok()?;
            Some(
                v.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name} must be a number, not `{v}`")),
            )
        };
        let seconds = var("KILN_FUZZ_SECONDS");
        let base = var("KILN_FUZZ_SEED").unwrap_or_else(|| {
            if seconds.is_some() {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                now.as_secs() ^ u64::from(now.subsec_nanos())
            } else {
                FIXED_SEED
            }
        });
        Plan {
            seed: base,
            cases: if seconds.is_some() {
                u64::MAX
            } else {
                default_cases
            },
            until: seconds.map(|s| Instant::now() + Duration::from_secs(s)),
            only: var("KILN_FUZZ_CASE"),
            long: seconds.is_some(),
        }
    }

    /// The generator for case `index`: every case can be replayed on its own.
    fn rng(&self, target: &str, index: u64) -> Rng {
        let stream = target
            .bytes()
            .fold(self.seed, |h, b| splitmix(h ^ u64::from(b)));
        Rng::new(stream ^ splitmix(index))
    }
}

/// A thread that runs cases and reports each result, so a hung case can be abandoned.
struct Worker<C> {
    cases: mpsc::Sender<C>,
    results: mpsc::Receiver<Result<(), Failure>>,
}

impl<C: Case> Worker<C> {
    fn new(target: &str) -> Worker<C> {
        let (cases, case_rx) = mpsc::channel::<C>();
        let (result_tx, results) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("fuzz-{target}"))
            // The size of kiln's main thread, where values and manifests are read.
            .stack_size(8 << 20)
            .spawn(move || {
                for case in case_rx {
                    let started = Instant::now();
                    let mut result = run_caught(&case);
                    if result.is_ok() && started.elapsed() > HANG {
                        result = Err(Failure {
                            kind: Kind::Hang,
                            message: format!("took {:.1} s", started.elapsed().as_secs_f64()),
                        });
                    }
                    if result_tx.send(result).is_err() {
                        break;
                    }
                }
            })
            .expect("spawn the fuzz worker");
        Worker { cases, results }
    }

    /// The result of one case; `None` when it does not end (this worker is then lost). A case
    /// that ends after [`HANG`] is a hang too; the margin lets a kiln subprocess be killed at
    /// [`HANG`] and report itself.
    fn run(&self, case: C) -> Option<Result<(), Failure>> {
        self.cases.send(case).ok()?;
        match self.results.recv_timeout(HANG + Duration::from_secs(5)) {
            Ok(r) => Some(r),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Some(Err(Failure::panic("the fuzz worker died")))
            }
        }
    }
}

/// Where and how the last panic happened (set by the hook from [`watch_panics`]).
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Record each panic's place and backtrace, then let the previous hook print as usual.
fn watch_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let trace = std::backtrace::Backtrace::force_capture().to_string();
            // Enough frames to see where in kiln, not the whole test harness below it.
            let trace: Vec<&str> = trace.lines().take(60).collect();
            if let Ok(mut last) = LAST_PANIC.lock() {
                *last = Some(format!("{info}\n{}", trace.join("\n")));
            }
            // The harness reports its workers' panics itself, shrunk and with the input saved.
            let worker = std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with("fuzz-"));
            if !worker {
                previous(info);
            }
        }));
    });
}

fn run_caught<C: Case>(case: &C) -> Result<(), Failure> {
    match panic::catch_unwind(AssertUnwindSafe(|| case.run())) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let place = LAST_PANIC
                .lock()
                .ok()
                .and_then(|mut l| l.take())
                .unwrap_or_default();
            Err(Failure::panic(format!("{what}\n{place}")))
        }
    }
}

/// Counts of one target's run.
#[derive(Default)]
struct Stats {
    cases: u64,
    panics: u64,
    hangs: u64,
    wrong: u64,
}

/// Where a case comes from.
enum Input<C> {
    /// A file under `tests/fixtures/fuzz/<target>/`, by name.
    Fixture((String, C)),
    /// The generator, by case number.
    Generated(u64),
}

/// Run `target`: its regression fixtures, then generated cases (a fixed number, or for
/// `KILN_FUZZ_SECONDS`), and fail with the seed and saved inputs of whatever went wrong.
fn fuzz<C: Case>(target: &'static str, default_cases: u64, generate: impl Fn(&mut Rng) -> C) {
    watch_panics();
    // As `kiln::run` builds it: rayon workers parse documents in parallel.
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(32 << 20)
        .build_global();
    let plan = Plan::from_env(default_cases);
    if plan.long {
        INPUT_CUT.store(MAX_INPUT, Ordering::Relaxed);
    }
    let started = Instant::now();
    let mut worker = Worker::<C>::new(target);
    let mut stats = Stats::default();
    let mut reports: Vec<String> = Vec::new();
    let fixture_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(target);
    let fixtures: Vec<(String, C)> = std::fs::read_dir(&fixture_dir)
        .map(|entries| {
            let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
            paths.sort();
            paths
                .into_iter()
                .filter(|p| !p.to_string_lossy().ends_with(".emitted.yaml"))
                .map(|p| {
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    (format!("fixture {name}"), C::load(&p))
                })
                .collect()
        })
        .unwrap_or_default();
    let in_flight = failures_dir().join(format!("in-flight-{target}.txt"));
    let generated = match plan.only {
        Some(i) => i..i + 1,
        None => 0..plan.cases,
    };
    let inputs = fixtures
        .into_iter()
        .map(Input::Fixture)
        .chain(generated.map(Input::Generated));
    // libtest names the thread after the test: `fuzz::values_layers`.
    let test = std::thread::current()
        .name()
        .unwrap_or("fuzz::")
        .to_string();
    for input in inputs {
        if plan.until.is_some_and(|u| Instant::now() > u) {
            break;
        }
        let (label, case, replay) = match input {
            Input::Fixture((name, case)) => (name, case, "(a fixture: it runs every time)".into()),
            Input::Generated(i) => (
                format!("case {i}"),
                generate(&mut plan.rng(target, i)),
                format!(
                    "(replay: KILN_FUZZ_SEED={} KILN_FUZZ_CASE={i} cargo test --test integration {test})",
                    plan.seed
                ),
            ),
        };
        if plan.long {
            // A crash that takes the process down (a stack overflow) still leaves its case.
            let _ = std::fs::write(&in_flight, format!("seed {} {label}\n", plan.seed));
        }
        stats.cases += 1;
        let result = match worker.run(case.clone()) {
            Some(r) => r,
            None => {
                worker = Worker::new(target);
                Err(Failure {
                    kind: Kind::Hang,
                    message: format!("still running after {} s", HANG.as_secs()),
                })
            }
        };
        let Err(failure) = result else { continue };
        let kind = failure.kind;
        match kind {
            Kind::Panic => stats.panics += 1,
            Kind::Hang => stats.hangs += 1,
            Kind::Wrong => stats.wrong += 1,
        }
        if reports.len() < SAVED {
            let (case, failure) = shrink(&mut worker, target, case, failure, plan.long);
            let stem = failures_dir().join(format!(
                "{target}-{}-{}",
                plan.seed,
                label.replace([' ', '/'], "-")
            ));
            let size = case.size();
            let path = case.save(&stem);
            let report = format!(
                "fuzz {target}: {:?} at {label}, seed {} {replay}\n  input ({size} bytes after shrinking): {}\n  {}",
                failure.kind,
                plan.seed,
                path.display(),
                failure.message.replace('\n', "\n  ")
            );
            let _ = writeln!(std::io::stderr(), "{report}");
            reports.push(report);
        }
        // A hung in-process case keeps its thread busy; one is enough to report.
        if kind == Kind::Hang && !plan.long {
            break;
        }
    }
    let _ = std::fs::remove_file(&in_flight);
    if plan.long {
        let _ = writeln!(
            std::io::stderr(),
            "fuzz {target}: {} cases in {:.0} s, {} panics, {} hangs, {} wrong (seed {})",
            stats.cases,
            started.elapsed().as_secs_f64(),
            stats.panics,
            stats.hangs,
            stats.wrong,
            plan.seed
        );
    }
    assert!(
        reports.is_empty(),
        "fuzz {target}: {} of {} cases failed ({} panics, {} hangs, {} wrong):\n{}",
        stats.panics + stats.hangs + stats.wrong,
        stats.cases,
        stats.panics,
        stats.hangs,
        stats.wrong,
        reports.join("\n")
    );
}

/// Make a failing case smaller while it fails the same way, for a few seconds. Hangs are kept
/// as they are (each try would take [`HANG`]).
fn shrink<C: Case>(
    worker: &mut Worker<C>,
    target: &str,
    mut case: C,
    mut failure: Failure,
    long: bool,
) -> (C, Failure) {
    if failure.kind == Kind::Hang {
        return (case, failure);
    }
    let deadline = Instant::now() + Duration::from_secs(if long { 30 } else { 10 });
    'smaller: while Instant::now() < deadline {
        for candidate in case.shrink() {
            if Instant::now() > deadline {
                break 'smaller;
            }
            match worker.run(candidate.clone()) {
                Some(Err(f)) if f.kind == failure.kind => {
                    case = candidate;
                    failure = f;
                    continue 'smaller;
                }
                Some(_) => {}
                None => {
                    *worker = Worker::new(target);
                    break 'smaller;
                }
            }
        }
        break;
    }
    (case, failure)
}

fn failures_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
