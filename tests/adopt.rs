//! `kiln adopt`: round trips (the bundled fleet's `kiln render --out`, its golden/, the
//! `fleet.py` Jinja2 fleet, the field corpus), compactness figures, bad input.
//!
//! Every round trip is checked twice: by adopt's own proof (exit 0) and independently here, by
//! rendering the adopted project with `kiln render --out` and comparing every object of every
//! environment, as parsed JSON values, with the input.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::support::{self, Kiln, kiln, kiln_in};

/// Every object under `dir/<env>/` (or `dir` itself for `env`), as JSON values, per folder.
fn objects(dir: &Path, flat_env: Option<&str>) -> BTreeMap<String, Vec<serde_json::Value>> {
    let mut out = BTreeMap::new();
    let folders: Vec<(String, std::path::PathBuf)> = match flat_env {
        Some(e) => vec![(e.to_string(), dir.to_path_buf())],
        None => std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.path().is_dir() && !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| (e.file_name().to_string_lossy().replace('@', "-"), e.path()))
            .collect(),
    };
    for (env, path) in folders {
        let mut docs = Vec::new();
        for f in std::fs::read_dir(&path).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|x| x == "yaml") {
                let text = std::fs::read_to_string(&f).unwrap();
                let parsed = kiln::yaml::parse_stream(&text, 0, kiln::yaml::Dialect::Kube)
                    .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
                docs.extend(parsed.iter().map(|n| serde_json::to_value(n).unwrap()));
            }
        }
        out.insert(env, docs);
    }
    out
}

/// The same objects on both sides, in every environment (order free).
fn assert_same(
    input: &BTreeMap<String, Vec<serde_json::Value>>,
    rendered: &BTreeMap<String, Vec<serde_json::Value>>,
) {
    assert_eq!(
        input.keys().collect::<Vec<_>>(),
        rendered.keys().collect::<Vec<_>>()
    );
    for (env, docs) in input {
        let mut theirs = rendered[env].clone();
        assert_eq!(docs.len(), theirs.len(), "{env}: object count");
        for d in docs {
            let i = theirs
                .iter()
                .position(|t| t == d)
                .unwrap_or_else(|| panic!("{env}: no rendered object equals {d}"));
            theirs.swap_remove(i);
        }
    }
}

/// Adopt `input` into `to`, assert the proof passed, render the project independently and
/// compare; returns adopt's report.
fn round_trip(input: &Path, flat_env: Option<&str>, to: &Path) -> String {
    let mut args = vec![
        "adopt".to_string(),
        input.display().to_string(),
        "--to".into(),
        to.display().to_string(),
    ];
    if let Some(e) = flat_env {
        args.extend(["--env".to_string(), e.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = kiln(&args);
    assert_eq!(out.0, 0, "{}{}", out.1, out.2);
    assert!(out.1.contains("round trip: exact"), "{}", out.1);
    let rendered = to.join("out");
    // Secret values are in `*.sops.yaml` twins, in plaintext: encrypted with the real sops and
    // age first, kiln renders the project as a user's would be.
    let twins: Vec<_> = walkdir::WalkDir::new(to.join("values"))
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.to_string_lossy().ends_with(".sops.yaml"))
        .collect();
    let mut render = Kiln::new(&["render", "--out", rendered.to_str().unwrap()]).project(to);
    if !twins.is_empty() {
        let Some(sops) = support::require(support::sops()) else {
            return out.1;
        };
        let Some(keygen) = support::tool("age-keygen") else {
            return out.1;
        };
        let key = to.join("age.txt");
        let o = Command::new(keygen).arg("-o").arg(&key).output().unwrap();
        assert!(o.status.success(), "{o:?}");
        let public = std::fs::read_to_string(&key)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("# public key: ").map(str::to_string))
            .unwrap();
        support::write(
            to,
            ".sops.yaml",
            format!("creation_rules:\n  - path_regex: \\.sops\\.ya?ml$\n    age: {public}\n"),
        );
        for t in &twins {
            let o = Command::new(&sops)
                .args(["--encrypt", "--in-place"])
                .arg(t)
                .current_dir(to)
                .env("HOME", to)
                .output()
                .unwrap();
            assert!(o.status.success(), "sops --encrypt {}: {o:?}", t.display());
        }
        render = render
            .env("KILN_SOPS", sops.to_str().unwrap())
            .env("SOPS_AGE_KEY_FILE", key.to_str().unwrap())
            .env("SOPS_AGE_KEY", "")
            .env("HOME", to.to_str().unwrap());
    }
    let r = render.run();
    assert_eq!(r.0, 0, "{}", r.2);
    let mut input_objects = objects(input, flat_env);
    // ApplySet parents and member labels become the `applyset:` setting (golden/ only).
    for docs in input_objects.values_mut() {
        docs.retain(|d| {
            d.pointer("/metadata/labels/applyset.kubernetes.io~1id")
                .is_none()
        });
        for d in docs.iter_mut() {
            if let Some(serde_json::Value::Object(l)) = d.pointer_mut("/metadata/labels") {
                l.shift_remove("applyset.kubernetes.io/part-of");
            }
        }
    }
    assert_same(&input_objects, &objects(&rendered, None));
    out.1
}

/// Bytes of the files under `dir/sub` with these endings.
fn bytes(dir: &Path, sub: &str) -> u64 {
    walkdir::WalkDir::new(dir.join(sub))
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

fn lines(dir: &Path, sub: &str) -> usize {
    walkdir::WalkDir::new(dir.join(sub))
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| std::fs::read_to_string(e.path()).unwrap().lines().count())
        .sum()
}

#[test]
fn the_bundled_fleet_rendered_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let r = kiln_in(repo, &["render", "--out", input.to_str().unwrap()]);
    assert_eq!(r.0, 0, "{}", r.2);
    let report = round_trip(&input, None, &tmp.path().join("adopted"));
    assert_compact(&report, &tmp.path().join("adopted"));
    assert!(
        report.contains("spring-boot                      26 instance(s) of 6 service(s)"),
        "{report}"
    );
    for set in ["eureka-server", "stateful", "external"] {
        assert!(
            report.contains(&format!("  {set:<32} ")) && report.contains("(built-in, fitted)"),
            "{set}: {report}"
        );
    }
    // The `_env` set: Namespace labels and team access, in the defaults as the bundled values
    // have them; no project template for them.
    assert!(
        report.contains("  _env                             every environment's Namespace"),
        "{report}"
    );
    let defaults =
        std::fs::read_to_string(tmp.path().join("adopted/values/defaults.yaml")).unwrap();
    assert!(
        defaults.contains("teams:\n- name: platform\n"),
        "{defaults}"
    );
    assert!(
        defaults.contains("pod-security.kubernetes.io/enforce: baseline"),
        "{defaults}"
    );
    assert!(!tmp.path().join("adopted/templates/namespace").exists());
    // Everything the bundled fleet renders comes back on the built-in sets: no project
    // template at all, ingress-nginx (the DNS proxy in dev, the port maps) included.
    assert!(
        report.contains("and ingress-nginx (values `namespace`, `teams`, `ingressNginx`)"),
        "{report}"
    );
    assert!(report.contains("0 factored into project sets"), "{report}");
    assert!(!tmp.path().join("adopted/templates").exists());
    let dev = std::fs::read_to_string(tmp.path().join("adopted/values/envs/dev.yaml")).unwrap();
    assert!(
        dev.contains("ingressNginx:\n  controller:\n    enabled: true\n"),
        "{dev}"
    );
    let redis =
        std::fs::read_to_string(tmp.path().join("adopted/values/services/redis.yaml")).unwrap();
    assert!(redis.contains("template: stateful\n"), "{redis}");
}

/// The compactness target for the bundled fleet: values at most 1.5x the bundled
/// `values/` (lines, as `wc -l` counts them), and no patches at all, although the bundled values
/// carry one (the Arthas sidecar, which adopt expresses with `extraContainers` and
/// `shareProcessNamespace`).
fn assert_compact(report: &str, adopted: &Path) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ours = lines(adopted, "values");
    let bundled = lines(repo, "values");
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!(
            "adopt: bundled fleet values {ours} lines vs bundled values/ {bundled} lines\n"
        ),
    );
    assert!(
        ours * 2 <= bundled * 3,
        "{ours} vs {bundled} lines\n{report}"
    );
    let bundled_patches = walkdir::WalkDir::new(repo.join("values"))
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).unwrap();
            text.lines()
                .filter(|l| l.starts_with("  - target:"))
                .count()
        })
        .sum::<usize>();
    assert_eq!(bundled_patches, 1, "the bundled fleet's own patches");
    assert!(report.contains("patches written: 0;"), "{report}");
    let arthas =
        std::fs::read_to_string(adopted.join("values/services/payment-service.test.yaml")).unwrap();
    assert!(
        arthas.contains("shareProcessNamespace: true") && !arthas.contains("patches:"),
        "{arthas}"
    );
}

#[test]
fn the_bundled_golden_folder_round_trips_without_its_applyset() {
    let tmp = tempfile::tempdir().unwrap();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden");
    let report = round_trip(&golden, None, &tmp.path().join("adopted"));
    assert_compact(&report, &tmp.path().join("adopted"));
    assert!(report.contains("ApplySet: 5 parent(s) dropped"), "{report}");
    assert!(report.contains("secret digests"), "{report}");
    let kiln_yaml = std::fs::read_to_string(tmp.path().join("adopted/kiln.yaml")).unwrap();
    assert!(
        kiln_yaml.contains("applyset:\n  scope: environment"),
        "{kiln_yaml}"
    );
    // prod@aliyun-hz-prod and prod@tencent-sh-prod: one environment on two clusters, the
    // Tencent Kafka brokers in that cluster's layer.
    assert!(
        kiln_yaml.contains(
            "  prod:\n    namespace: prod\n    clusters: [aliyun-hz-prod, tencent-sh-prod]\n"
        ),
        "{kiln_yaml}"
    );
    assert!(!kiln_yaml.contains("prod-"), "{kiln_yaml}");
    let tencent = std::fs::read_to_string(
        tmp.path()
            .join("adopted/values/clusters/tencent-sh-prod.yaml"),
    )
    .unwrap();
    assert!(tencent.contains("10.40.1.11:9092"), "{tencent}");
    assert!(
        report.contains("instances: 46 fitted to built-in sets"),
        "{report}"
    );
    assert!(
        !report.contains("adopted as environments of their own"),
        "{report}"
    );
}

#[test]
fn a_service_that_differs_between_clusters_splits_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let r = kiln_in(repo, &["render", "--out", input.to_str().unwrap()]);
    assert_eq!(r.0, 0, "{}", r.2);
    // One service's variable differs on one cluster of prod: kiln has no per-service,
    // per-cluster layer, so each cluster's folder becomes an environment of its own.
    let file = input.join("prod@tencent-sh-prod/user-service.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let changed = text.replace("value: \"7200\"", "value: \"3600\"");
    assert_ne!(text, changed);
    std::fs::write(&file, changed).unwrap();
    let to = tmp.path().join("adopted");
    let report = round_trip(&input, None, &to);
    assert!(
        report.contains("adopted as environments of their own"),
        "{report}"
    );
    let kiln_yaml = std::fs::read_to_string(to.join("kiln.yaml")).unwrap();
    assert!(
        kiln_yaml.contains("  prod-tencent-sh-prod:\n"),
        "{kiln_yaml}"
    );
    assert!(!kiln_yaml.contains("clusters:"), "{kiln_yaml}");
}

#[test]
fn an_instance_its_set_refuses_only_costs_its_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let r = kiln_in(repo, &["render", "--out", input.to_str().unwrap()]);
    assert_eq!(r.0, 0, "{}", r.2);
    // A pull policy the `spring-boot` schema refuses: the trial of `test` does not render, the
    // other environments still fit, `test` is factored, and user-service is both.
    let file = input.join("test/user-service.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let changed = text.replace(
        "imagePullPolicy: IfNotPresent",
        "imagePullPolicy: Sometimes",
    );
    assert_ne!(text, changed);
    std::fs::write(&file, changed).unwrap();
    let report = round_trip(&input, None, &tmp.path().join("adopted"));
    assert!(
        report.contains("the built-in sets' trial project does not render in test:"),
        "{report}"
    );
    assert!(
        report.contains("instances: 36 fitted to built-in sets"),
        "{report}"
    );
    // user-service and payment-service are fitted in four environments and factored in test:
    // the environments still fold (prod on its two clusters), and the port payment-service
    // exposes is claimed once in test.
    assert!(
        !report.contains("adopted as environments of their own"),
        "{report}"
    );
}

#[test]
fn a_folder_mixing_two_clusters_is_a_located_error() {
    // The same Deployment rendered for two clusters, concatenated into one folder.
    let deployment = |replicas: u8| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: prod}}\nspec: {{replicas: {replicas}}}\n"
        )
    };
    let tmp = support::project(&[
        ("in/prod/web.yaml", &deployment(3)),
        ("in/prod/web-tencent.yaml", &deployment(5)),
    ]);
    let to = tmp.path().join("adopted");
    let out = kiln(&[
        "adopt",
        tmp.path().join("in").to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
    ]);
    assert_eq!(out.0, 1, "{}{}", out.1, out.2);
    assert!(out.2.contains("prod/web.yaml:1:1"), "{}", out.2);
    assert!(
        out.2.contains("first written in `prod/web-tencent.yaml`"),
        "{}",
        out.2
    );
    assert!(
        out.2.contains("one folder per cluster, `<env>@<cluster>`"),
        "{}",
        out.2
    );
    assert!(!to.exists());
}

#[test]
fn the_jinja2_fleet_of_50_services_round_trips_in_under_30_percent() {
    let Some(fleet_py) = support::shared("bench/fleet.py") else {
        return;
    };
    let python = Command::new("python3")
        .args(["-c", "import jinja2, yaml"])
        .status();
    let Some(()) = support::require(match python {
        Ok(s) if s.success() => Ok(()),
        _ => Err("python3 with jinja2 and PyYAML is not available".to_string()),
    }) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let fleet = tmp.path().join("fleet");
    let ok = Command::new("python3")
        .arg(&fleet_py)
        .arg(&fleet)
        .arg("50")
        .status()
        .unwrap();
    assert!(ok.success());
    let input = tmp.path().join("jinja-out");
    let ok = Command::new("python3")
        .arg(fleet.join("jinja/render.py"))
        .arg(&input)
        .status()
        .unwrap();
    assert!(ok.success());
    let to = tmp.path().join("adopted");
    let report = round_trip(&input, None, &to);
    assert!(
        report.contains("200 instance(s) of 50 service(s)"),
        "{report}"
    );
    let project = bytes(&to, "values") + bytes(&to, "templates");
    let input_bytes = bytes(tmp.path(), "jinja-out");
    assert!(
        project * 100 <= input_bytes * 30,
        "{project} of {input_bytes} bytes"
    );
}

#[test]
fn the_field_manifests_round_trip_as_one_environment() {
    let Some(field) = support::shared("corpus/field") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let to = tmp.path().join("adopted");
    round_trip(&field, Some("field"), &to);
    // extensions/v1beta1 Deployment: the newest version that still serves it.
    let kiln_yaml = std::fs::read_to_string(to.join("kiln.yaml")).unwrap();
    assert!(kiln_yaml.contains("kubeVersion: \"1.15\""), "{kiln_yaml}");
}

#[test]
fn bad_input_is_a_located_error_and_nothing_is_written() {
    let cases: [(&str, &str, &str); 4] = [
        (
            "dev/a.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a\n",
            "dev/a.yaml:",
        ),
        (
            "dev/a.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {}}\n",
            "missing `metadata.name`",
        ),
        (
            "dev/a.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
            "is written twice in environment `dev`",
        ),
        ("dev/a.yaml", "- just\n- a list\n", "must be a mapping"),
    ];
    for (file, text, expected) in cases {
        let tmp = support::project(&[(file, text)]);
        let to = tmp.path().join("adopted");
        let out = kiln(&[
            "adopt",
            tmp.path().to_str().unwrap(),
            "--to",
            to.to_str().unwrap(),
        ]);
        assert_eq!(out.0, 1, "{text}: {}{}", out.1, out.2);
        assert!(out.2.contains(expected), "{text}: {}", out.2);
        assert!(!to.exists(), "{text}: nothing may be written");
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains("kiln-adopt")
            })
            .collect();
        assert!(leftovers.is_empty());
    }
}

#[test]
fn an_existing_target_is_never_overwritten() {
    let tmp = support::project(&[
        (
            "in/dev/a.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n",
        ),
        ("to/keep.txt", "mine\n"),
    ]);
    let out = kiln(&[
        "adopt",
        tmp.path().join("in").to_str().unwrap(),
        "--to",
        tmp.path().join("to").to_str().unwrap(),
    ]);
    assert_eq!(out.0, 2, "{}", out.2);
    assert!(out.2.contains("already exists"), "{}", out.2);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("to/keep.txt")).unwrap(),
        "mine\n"
    );
}

#[test]
fn tricky_values_round_trip() {
    // Jinja syntax in data, a null, YAML 1.1 booleans as strings, an integer ConfigMap key,
    // services present in one environment only, a value differing per service and environment.
    let cm = |name: &str, extra: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: NS\n  labels: {{app: {name}}}\ndata:\n  tpl: '{{{{ .Values.x }}}} {{% if %}}'\n  flag: \"on\"\n  53: udp\n{extra}"
        )
    };
    let tmp = support::project(&[
        (
            "in/dev/a.yaml",
            &cm("alpha", "  level: debug\n").replace("NS", "dev"),
        ),
        (
            "in/dev/b.yaml",
            &cm("beta", "  level: info\n").replace("NS", "dev"),
        ),
        (
            "in/prod/a.yaml",
            &cm("alpha", "  level: warn\n").replace("NS", "prod"),
        ),
        (
            "in/prod/s.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: alpha-db, namespace: prod, labels: {app: alpha}}\nstringData: {DB_URL: 'mysql://app:Sup3rS3cret@db:3306/x', level: same}\n",
        ),
        (
            "in/prod/c.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: gamma, namespace: prod, annotations: {x: null}}\nspec: {replicas: 2}\n",
        ),
    ]);
    let report = round_trip(&tmp.path().join("in"), None, &tmp.path().join("adopted"));
    assert!(report.contains("configmap"), "{report}");
    let beta_prod =
        std::fs::read_to_string(tmp.path().join("adopted/values/services/beta.prod.yaml")).unwrap();
    assert!(beta_prod.contains("enabled: false"), "{beta_prod}");
}
