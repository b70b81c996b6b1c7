//! `kiln convert` end to end: every old-era corpus file converts to manifests that
//! `kiln lint --kube-version 1.29` accepts (checked against the 1.29 OpenAPI schemas), except
//! what has no mechanical migration, which is reported; plus the command's contract: stdout,
//! `--in-place`, reports, exit codes.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

use crate::support::{Kiln, kiln};

/// A schema cache holding the schemas of one Kubernetes version, imported once per test run
/// from `openapi` (../shared/k8s-openapi; `source`: a v2 swagger file or a v3 folder in it).
fn schema_cache(openapi: &Path, version: &str, source: &str) -> String {
    static CACHES: OnceLock<std::sync::Mutex<Vec<(String, tempfile::TempDir)>>> = OnceLock::new();
    let caches = CACHES.get_or_init(Default::default);
    let mut caches = caches.lock().unwrap();
    if let Some((_, dir)) = caches.iter().find(|(v, _)| v == version) {
        return dir.path().display().to_string();
    }
    let dir = tempfile::tempdir().unwrap();
    let src = openapi.join(source);
    let cache = dir.path().display().to_string();
    let (code, _, err) = kiln(&[
        "schemas",
        "import",
        src.to_str().unwrap(),
        "--kube-version",
        version,
        "--schema-cache",
        &cache,
    ]);
    assert_eq!(code, 0, "importing the {version} schemas failed: {err}");
    caches.push((version.to_string(), dir));
    cache
}

/// `kiln lint` of a path (or `-` with `stdin`) at `version`, with that version's real schemas:
/// the error findings as (rule, resource, path).
fn lint_errors(
    path: &str,
    stdin: &str,
    version: &str,
    cache: &str,
) -> Vec<(String, String, String)> {
    let (code, out, err) = Kiln::new(&[
        "lint",
        path,
        "--kube-version",
        version,
        "--format",
        "json",
        "--skip-missing-schemas",
        "--schema-cache",
        cache,
    ])
    .stdin(stdin)
    .run();
    let errors: Vec<(String, String, String)> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|f| f["severity"] == "error")
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("rule"), s("resource"), s("path"))
        })
        .collect();
    // Exit 1 exactly when there are error findings.
    assert_eq!(
        code,
        i32::from(!errors.is_empty()),
        "lint {path}: {errors:?}\n{err}"
    );
    errors
}

/// Objects in old-era corpus files that have no mechanical migration to 1.29: convert must
/// report each (and leave it as it was). (file, resource as `kiln lint` names it, why.)
const NOT_MECHANICAL: &[(&str, &str, &str)] = &[
    (
        "instrumenta__kubeval__fixtures__extra_property.yaml",
        "extensions/v1beta1 DaemonSet nginx-ds",
        "no selector and no pod template labels to derive one from (the API server of its era rejected it too: the defaulted selector would be empty)",
    ),
    (
        "instrumenta__kubeval__fixtures__valid.json",
        "apps/v1beta1 Deployment default/nginx-deployment",
        "no selector and no pod template labels to derive one from (as above)",
    ),
    (
        "doitintl__kube-no-trouble__fixtures__validatingwebhookconfiguration-v1beta1.yaml",
        "admissionregistration.k8s.io/v1beta1 ValidatingWebhookConfiguration my-namespace/test",
        "no `sideEffects`: v1 requires None or NoneOnDryRun, which only the webhook's author knows",
    ),
    (
        "doitintl__kube-no-trouble__fixtures__podsecuritypolicy-v1beta1.yaml",
        "policy/v1beta1 PodSecurityPolicy example",
        "PodSecurityPolicy was removed in 1.25 with no replacement API",
    ),
    (
        "kubernetes__examples__staging__podsecuritypolicy__rbac__policies__at-2017.yaml",
        "extensions/v1beta1 PodSecurityPolicy privileged",
        "its replacement policy/v1beta1 PodSecurityPolicy was removed in 1.25 with no replacement",
    ),
    (
        "kubernetes__examples__staging__podsecuritypolicy__rbac__policies__at-2017.yaml",
        "extensions/v1beta1 PodSecurityPolicy restricted",
        "as above",
    ),
];

/// Error findings left after converting that conversion cannot fix: (file, rule, resource,
/// path, the version at which linting the *original* shows the same finding (None: it cannot
/// be shown there), why).
const EXCEPTIONS: &[(&str, &str, &str, &str, Option<&str>, &str)] = &[
    (
        "doitintl__kube-no-trouble__fixtures__autoscaler-v2beta1.yaml",
        "schema",
        "autoscaling/v2 HorizontalPodAutoscaler php-apache",
        "status.lastScaleTime",
        Some("1.21"),
        "the fixture's status has `lastScaleTime: 12`, an integer where every HPA version wants a date-time (SOURCES.tsv marks the file invalid)",
    ),
    (
        "doitintl__kube-no-trouble__fixtures__autoscaler-v2beta2.yaml",
        "schema",
        "autoscaling/v2 HorizontalPodAutoscaler php-apache",
        "status.lastScaleTime",
        Some("1.21"),
        "same `lastScaleTime: 12` as the v2beta1 fixture",
    ),
    (
        "FairwindsOps__pluto__e2e__tests__assets__list__list-deployment-deprecated-and-non-deprecated.yaml",
        "duplicate-resource",
        "apps/v1 Deployment utilities",
        "",
        None,
        "the List holds Deployment `utilities` twice, as extensions/v1beta1 and as apps/v1: one object in a cluster, so genuine in the original; lint only sees it once both are apps/v1 (it keys duplicates by apiVersion)",
    ),
];

/// The old-era files of `corpus` (SOURCES.tsv category contains `removed-api`).
fn old_era_files(corpus: &Path) -> Vec<String> {
    let tsv = std::fs::read_to_string(corpus.join("SOURCES.tsv")).unwrap();
    let files: Vec<String> = tsv
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols.len() > 5 && cols[5].split(';').any(|c| c == "removed-api"))
                .then(|| cols[0].to_string())
        })
        .collect();
    assert!(
        files.len() > 40,
        "only {} removed-api files in SOURCES.tsv",
        files.len()
    );
    files
}

#[test]
fn old_era_corpus_converts_to_manifests_that_lint_clean_at_1_29() {
    let Some(dir) = crate::support::shared("corpus/real") else {
        return;
    };
    let Some(openapi) = crate::support::shared("k8s-openapi") else {
        return;
    };
    let cache = schema_cache(&openapi, "1.29", "v3/1.29");
    let mut problems = Vec::new();
    let mut used_exceptions = BTreeSet::new();
    let mut converted_files = 0;
    for file in old_era_files(&dir) {
        let path = dir.join(&file);
        let p = path.to_str().unwrap();
        let (code, out, err) = kiln(&["convert", "--to", "1.29", p]);
        let expected: Vec<&(&str, &str, &str)> = NOT_MECHANICAL
            .iter()
            .filter(|(f, _, _)| *f == file)
            .collect();
        let want_code = i32::from(!expected.is_empty());
        if code != want_code {
            problems.push(format!(
                "{file}: convert exit {code}, expected {want_code}: {err}"
            ));
            continue;
        }
        converted_files += usize::from(err.lines().any(|l| l.contains(": converted ")));
        // Each object without a mechanical migration is reported once, with file and line.
        let reported: Vec<&str> = err.lines().filter(|l| l.contains(": error: ")).collect();
        for (_, resource, _) in &expected {
            let prefix = format!("{p}:");
            let found = reported.iter().any(|l| {
                l.starts_with(&prefix)
                    && l[prefix.len()..]
                        .split(':')
                        .next()
                        .is_some_and(|n| n.parse::<u32>().is_ok())
                    && l.contains(&format!(": error: cannot convert {resource}: "))
            });
            if !found {
                problems.push(format!(
                    "{file}: `{resource}` not reported as unconvertible:\n{err}"
                ));
            }
        }
        if reported.len() != expected.len() {
            problems.push(format!(
                "{file}: {} error line(s), expected {}:\n{err}",
                reported.len(),
                expected.len()
            ));
        }
        for (rule, resource, at) in lint_errors("-", &out, "1.29", &cache) {
            let unconvertible =
                rule == "removed-api" && expected.iter().any(|(_, r, _)| *r == resource);
            let exception = EXCEPTIONS.iter().position(|(f, ru, re, pa, _, _)| {
                *f == file && *ru == rule && *re == resource && *pa == at
            });
            if let Some(i) = exception {
                used_exceptions.insert(i);
            } else if !unconvertible {
                problems.push(format!(
                    "{file}: error[{rule}] {resource} at `{at}` after converting"
                ));
            }
        }
    }
    for (i, (file, rule, resource, at, era, why)) in EXCEPTIONS.iter().enumerate() {
        if !used_exceptions.contains(&i) {
            problems.push(format!(
                "exception no longer needed, remove it: {file} {rule} {resource} ({why})"
            ));
        }
        // The finding is the original's, not the conversion's: lint the original in its era.
        if let Some(era) = era {
            let source = if *era == "1.29" {
                "v3/1.29".to_string()
            } else {
                format!("v{era}.swagger.json")
            };
            let cache = schema_cache(&openapi, era, &source);
            let original = dir.join(file);
            let kind_name = |r: &str| r.split_once(' ').map_or(r, |(_, rest)| rest).to_string();
            let same = lint_errors(original.to_str().unwrap(), "", era, &cache)
                .into_iter()
                .any(|(ru, re, pa)| {
                    ru == *rule && kind_name(&re) == kind_name(resource) && pa == *at
                });
            if !same {
                problems.push(format!(
                    "{file}: the original does not show error[{rule}] at `{at}` at {era}, so the exception's reason is wrong"
                ));
            }
        }
    }
    assert!(
        converted_files > 40,
        "only {converted_files} files had conversions"
    );
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

const OLD_DEPLOYMENT: &str = "\
# the web tier
apiVersion: extensions/v1beta1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2 # two is enough
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
";

const OLD_INGRESS: &str = "\
apiVersion: networking.k8s.io/v1beta1
kind: Ingress
metadata:
  name: web
spec:
  rules:
  - http:
      paths:
      - path: /
        backend:
          serviceName: web
          servicePort: 80
";

const PSP: &str = "\
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata:
  name: restricted
spec:
  privileged: false
";

#[test]
fn prints_the_converted_stream_and_one_line_per_object() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.yaml");
    let b = tmp.path().join("b.yml");
    std::fs::write(&a, OLD_DEPLOYMENT).unwrap();
    std::fs::write(
        &b,
        format!("{OLD_INGRESS}---\napiVersion: v1\nkind: Service\nmetadata: {{name: web}}\n"),
    )
    .unwrap();
    let (code, out, err) = kiln(&["convert", "--to", "1.29", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    // The Deployment is edited in place (comments kept), the Ingress is written again, the
    // Service is copied as it was; files are joined with `---`.
    let want = format!(
        "{}---\n{}---\napiVersion: v1\nkind: Service\nmetadata: {{name: web}}\n",
        OLD_DEPLOYMENT
            .replace("extensions/v1beta1", "apps/v1")
            .replace(
                "  template:",
                "  selector:\n    matchLabels:\n      app: web\n  template:"
            ),
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\nspec:\n  rules:\n  - http:\n      paths:\n      - path: /\n        pathType: ImplementationSpecific\n        backend:\n          service:\n            name: web\n            port:\n              number: 80\n"
    );
    assert_eq!(out, want);
    let a_shown = a.display().to_string();
    let b_shown = b.display().to_string();
    assert!(
        err.contains(&format!("{a_shown}:2: converted extensions/v1beta1 Deployment web to apps/v1: added `spec.selector.matchLabels`")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{b_shown}:1: converted networking.k8s.io/v1beta1 Ingress web to networking.k8s.io/v1"
        )),
        "{err}"
    );
    assert!(
        err.contains("1 document(s) were written out again, without the comments inside them"),
        "{err}"
    );

    // Standard input works the same way.
    let (code, stdin_out, err) = Kiln::new(&["convert", "--to", "1.29", "-"])
        .stdin(OLD_INGRESS)
        .run();
    assert_eq!(code, 0, "{err}");
    assert!(
        stdin_out.contains("pathType: ImplementationSpecific"),
        "{stdin_out}"
    );
    assert!(err.contains("<stdin>:1: converted"), "{err}");

    // The output is what lint at 1.29 accepts, with the upstream 1.29 schemas.
    let Some(openapi) = crate::support::shared("k8s-openapi") else {
        return;
    };
    let cache = schema_cache(&openapi, "1.29", "v3/1.29");
    assert_eq!(lint_errors("-", &out, "1.29", &cache), []);
}

#[test]
fn only_what_the_target_no_longer_serves_is_converted() {
    let flow = "apiVersion: flowcontrol.apiserver.k8s.io/v1beta3\nkind: FlowSchema\nmetadata:\n  name: f # keep me\n";
    // Deprecated in 1.29 but served until 1.32: left alone, with a note, exit 0.
    let (code, out, err) = Kiln::new(&["convert", "--to", "1.29", "-"])
        .stdin(flow)
        .run();
    assert_eq!((code, out.as_str()), (0, flow), "{err}");
    assert!(
        err.contains("<stdin>:1: note: flowcontrol.apiserver.k8s.io/v1beta3 FlowSchema f is deprecated but still served by Kubernetes 1.29: left unchanged (removed in 1.32; convert with `--to 1.32`)"),
        "{err}"
    );
    // At 1.32 it is converted.
    let (code, out, err) = Kiln::new(&["convert", "--to", "1.32", "-"])
        .stdin(flow)
        .run();
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, flow.replace("v1beta3", "v1"));
    // Ingress: removed in 1.22, so a 1.21 target keeps it (nothing breaks there).
    let (code, out, _) = Kiln::new(&["convert", "--to", "1.21", "-"])
        .stdin(OLD_INGRESS)
        .run();
    assert_eq!((code, out.as_str()), (0, OLD_INGRESS));
    // Nothing to do at all: the input comes back as it was.
    let modern = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c} # comment\n";
    let (code, out, err) = Kiln::new(&["convert", "--to", "1.35", "-"])
        .stdin(modern)
        .run();
    assert_eq!((code, out.as_str()), (0, modern));
    assert!(err.contains("converted 0 object(s)"), "{err}");
}

#[test]
fn objects_without_a_mechanical_migration_are_reported_and_kept() {
    let input = format!("{PSP}---\n{OLD_INGRESS}");
    let (code, out, err) = Kiln::new(&["convert", "--to", "1.29", "-"])
        .stdin(input.as_str())
        .run();
    assert_eq!(code, 1, "{err}");
    assert!(out.starts_with(PSP), "{out}");
    assert!(out.contains("apiVersion: networking.k8s.io/v1\n"), "{out}");
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].starts_with("<stdin>:1: error: cannot convert policy/v1beta1 PodSecurityPolicy restricted: Kubernetes 1.29 does not serve policy/v1beta1 PodSecurityPolicy (removed in 1.25): No replacement API"),
        "{err}"
    );
    assert!(err.contains("1 could not be converted"), "{err}");

    // ThirdPartyResource: a different kind, never converted.
    let tpr = "apiVersion: extensions/v1beta1\nkind: ThirdPartyResource\nmetadata:\n  name: cron-tab.stable.example.com\n";
    let (code, out, err) = Kiln::new(&["convert", "--to", "1.29", "-"])
        .stdin(tpr)
        .run();
    assert_eq!((code, out.as_str()), (1, tpr));
    assert!(err.contains("<stdin>:1: error: cannot convert extensions/v1beta1 ThirdPartyResource cron-tab.stable.example.com: no mechanical migration"), "{err}");
}

#[test]
fn in_place_rewrites_only_changed_parsable_files_atomically() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let sub = root.join("apps");
    std::fs::create_dir(&sub).unwrap();
    let changed = sub.join("web.yaml");
    let untouched = root.join("service.yaml");
    let broken = root.join("broken.yaml");
    let json = root.join("deploy.json");
    let notes = root.join("notes.txt");
    let service = "# the service\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n";
    let broken_text = format!("{OLD_INGRESS}---\nkind: [unclosed\n");
    let json_text = "{\n  \"apiVersion\": \"extensions/v1beta1\",\n  \"kind\": \"Deployment\",\n  \"metadata\": {\"name\": \"j\"},\n  \"spec\": {\"rollbackTo\": {\"revision\": 1}, \"template\": {\"metadata\": {\"labels\": {\"app\": \"j\"}}}}\n}\n";
    std::fs::write(&changed, format!("{OLD_DEPLOYMENT}---\n{PSP}")).unwrap();
    std::fs::write(&untouched, service).unwrap();
    std::fs::write(&broken, &broken_text).unwrap();
    std::fs::write(&json, json_text).unwrap();
    std::fs::write(&notes, "apiVersion: extensions/v1beta1\n").unwrap();
    let before = std::fs::metadata(&untouched).unwrap().modified().unwrap();

    let (code, out, err) = kiln(&[
        "convert",
        "--to",
        "1.29",
        "--in-place",
        root.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, "");
    // Converted, comments kept; the PSP in the same file stays as it was (and is reported).
    let web = std::fs::read_to_string(&changed).unwrap();
    assert!(
        web.starts_with("# the web tier\napiVersion: apps/v1\n"),
        "{web}"
    );
    assert!(
        web.contains("replicas: 2 # two is enough\n  selector:\n"),
        "{web}"
    );
    assert!(web.ends_with(&format!("---\n{PSP}")), "{web}");
    // Nothing to change: not rewritten at all.
    assert_eq!(std::fs::read_to_string(&untouched).unwrap(), service);
    assert_eq!(
        std::fs::metadata(&untouched).unwrap().modified().unwrap(),
        before
    );
    // A file with a document that does not parse is never rewritten, and says so.
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), broken_text);
    let broken_shown = broken.display().to_string();
    assert!(
        err.contains(&format!("{broken_shown}:14: error: not valid YAML")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{broken_shown}: error: not rewritten")),
        "{err}"
    );
    // JSON: its Deployment has `rollbackTo` (no apps/v1 equivalent): reported, file unchanged.
    assert_eq!(std::fs::read_to_string(&json).unwrap(), json_text);
    assert!(err.contains("spec.rollbackTo"), "{err}");
    // Only .yaml/.yml/.json files are read.
    assert_eq!(
        std::fs::read_to_string(&notes).unwrap(),
        "apiVersion: extensions/v1beta1\n"
    );
    assert!(err.contains("rewrote 1 file(s)"), "{err}");
    // No temporary files are left behind.
    let leftovers: Vec<String> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("kiln"))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new());

    // A JSON file that converts stays JSON.
    let ok_json = root.join("ok.json");
    std::fs::write(
        &ok_json,
        json_text.replace("\"rollbackTo\": {\"revision\": 1}, ", ""),
    )
    .unwrap();
    let (code, _, err) = kiln(&[
        "convert",
        "--to",
        "1.29",
        "--in-place",
        ok_json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ok_json).unwrap()).unwrap();
    assert_eq!(v["apiVersion"], "apps/v1");
    assert_eq!(v["spec"]["selector"]["matchLabels"]["app"], "j");
}

#[test]
fn bad_invocations_exit_2_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("a.yaml");
    std::fs::write(&f, OLD_DEPLOYMENT).unwrap();
    let p = f.to_str().unwrap();
    let missing = tmp.path().join("missing.yaml");
    for (args, says) in [
        (
            vec!["convert", "--to", "1.x", p],
            "`--to 1.x` is not a version",
        ),
        (
            vec![
                "convert",
                "--to",
                "1.29",
                "--in-place",
                p,
                missing.to_str().unwrap(),
            ],
            "cannot read",
        ),
        (
            vec!["convert", "--to", "1.29", "--in-place", "-"],
            "cannot rewrite standard input",
        ),
    ] {
        let (code, out, err) = kiln(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(
            std::fs::read_to_string(&f).unwrap(),
            OLD_DEPLOYMENT,
            "{args:?}"
        );
    }
    let bin = tmp.path().join("bin.yaml");
    std::fs::write(&bin, b"apiVersion: v1\nkind: \xff\n").unwrap();
    let (code, _, err) = kiln(&["convert", "--to", "1.29", bin.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not UTF-8"), "{err}");
}

/// Every case under `tests/fixtures/convert/` (see its README): `convert_object` of `in.yaml`
/// at `to` gives the expected outcome.
#[test]
fn fixture_cases() {
    use kiln::convert::{Outcome, convert_object};
    use kiln::kube::KubeVersion;
    use kiln::yaml::{self, Dialect};

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/convert");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 50,
        "only {} cases in {}",
        dirs.len(),
        root.display()
    );
    let parse = |path: &Path| {
        let text = std::fs::read_to_string(path).unwrap();
        yaml::parse(&text, 0, Dialect::Kube).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
    };
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let case = parse(&dir.join("case.yaml"));
        let to = case
            .get_str("to")
            .and_then(KubeVersion::parse)
            .unwrap_or_else(|| panic!("{name}: case.yaml needs `to: \"1.NN\"`"));
        let got = convert_object(&parse(&dir.join("in.yaml")), to);
        match (case.get_str("expect"), got) {
            (Some("unchanged"), Outcome::Unchanged)
            | (Some("deprecated"), Outcome::Deprecated(_)) => {}
            (Some("failed"), Outcome::Failed(why)) => {
                let reason = case
                    .get_str("reason")
                    .expect("a failed case names its reason");
                assert!(
                    why.contains(reason),
                    "{name}: reason {why:?} lacks {reason:?}"
                );
            }
            (Some("converted"), Outcome::Converted { node, notes, .. }) => {
                let want = yaml::emit(&parse(&dir.join("out.yaml"))).unwrap();
                assert_eq!(
                    yaml::emit(&node).unwrap(),
                    want,
                    "{name} (notes: {notes:?})"
                );
            }
            (expect, other) => panic!("{name}: expected {expect:?}, got {other:?}"),
        }
    }
}
