//! `kiln lint` and the checks behind `kiln check`: the kubeconform, kubeval and kubectl-validate
//! fixtures in ../shared/corpus/real give the verdicts their SOURCES.tsv expects, bad input is
//! reported per file while the rest is still checked, and every format is well-formed.

use std::path::Path;

use crate::support::{Kiln, kiln, kiln_in, project, shared, write};

fn lint(path: &Path, extra: &[&str]) -> (i32, Vec<serde_json::Value>) {
    let p = path.to_str().unwrap();
    let mut args = vec!["lint", p, "--kube-version", "1.35", "--format", "json"];
    args.extend_from_slice(extra);
    let (code, out, err) = kiln(&args);
    let findings: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Exit 1 exactly when there are error findings.
    let errors = findings.iter().any(|f| f["severity"] == "error");
    assert_eq!(code, i32::from(errors), "{p}: {err}");
    (code, findings)
}

/// Fixtures whose upstream verdict kiln does not share at 1.35, each with the reason.
const EXCEPTIONS: &[(&str, bool, &str)] = &[
    // Strict by default: these pass only without kubeconform's -strict.
    (
        "yannh__kubeconform__fixtures__extra_property.yaml",
        false,
        "kiln is always strict (unknown field)",
    ),
    (
        "yannh__kubeconform__fixtures__duplicate_property.yaml",
        false,
        "kiln is always strict (duplicate key)",
    ),
    // Valid in their era; their API versions are removed by 1.35 (the removed-API lint says so).
    (
        "yannh__kubeconform__fixtures__same-kind-different-api.yaml",
        false,
        "apps/v1beta1 Deployment removed in 1.16",
    ),
    (
        "instrumenta__kubeval__fixtures__extra_property.yaml",
        false,
        "extensions/v1beta1 removed in 1.16",
    ),
    (
        "instrumenta__kubeval__fixtures__null_array.yaml",
        false,
        "extensions/v1beta1 removed in 1.16",
    ),
    (
        "instrumenta__kubeval__fixtures__valid.json",
        false,
        "apps/v1beta1 removed in 1.16",
    ),
    // Disabled upstream: its expected error (`data` must be an object) does not match its content,
    // a valid apps/v1 Deployment.
    (
        "kubernetes-sigs__kubectl-validate__testcases__manifests__error_api_deprecation.yaml.disabled.yaml",
        true,
        "valid apps/v1 Deployment",
    ),
];

/// Fixtures that need schemas the corpus does not carry (their CRDs, or kubeval's skip list).
const NEEDS_SKIP: &[&str] = &[
    "yannh__kubeconform__fixtures__duplicates-skipped-kinds.yaml",
    "kubernetes-sigs__kubectl-validate__testcases__manifests__jobset.yaml",
    "kubernetes-sigs__kubectl-validate__testcases__manifests__multiple_resources.yaml",
];

#[test]
fn fixtures_get_the_verdicts_their_sources_expect() {
    let Some(dir) = shared("corpus/real") else {
        return;
    };
    let tsv = std::fs::read_to_string(dir.join("SOURCES.tsv")).unwrap();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for line in tsv.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, category) = (cols[0], cols[5]);
        let expect_valid = match category.split(';').next().unwrap_or_default() {
            "fixture-valid" => true,
            "fixture-invalid" => false,
            _ => continue,
        };
        let expect_valid = EXCEPTIONS
            .iter()
            .find(|(f, _, _)| *f == file)
            .map_or(expect_valid, |(_, valid, _)| *valid);
        let extra: &[&str] = if NEEDS_SKIP.contains(&file) {
            &["--skip-missing-schemas"]
        } else {
            &[]
        };
        let (code, findings) = lint(&dir.join(file), extra);
        checked += 1;
        let errors: Vec<String> = findings
            .iter()
            .filter(|f| f["severity"] == "error")
            .map(|f| format!("{} {}", f["rule"], f["message"]))
            .collect();
        if expect_valid != (code == 0) {
            wrong.push(format!(
                "{file} ({category}): expected {}, got exit {code}: {errors:?}",
                if expect_valid { "valid" } else { "invalid" }
            ));
        }
    }
    assert!(checked > 60, "only {checked} fixtures found");
    assert!(
        wrong.is_empty(),
        "{} fixture(s) disagree:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn findings_name_the_line_path_and_fix() {
    let Some(dir) = shared("corpus/real") else {
        return;
    };
    let (code, findings) = lint(&dir.join("yannh__kubeconform__fixtures__invalid.yaml"), &[]);
    assert_eq!(code, 1);
    let replicas = findings
        .iter()
        .find(|f| f["path"] == "spec.replicas")
        .expect("spec.replicas finding");
    assert_eq!(replicas["line"], 6);
    assert_eq!(replicas["resource"], "v1 ReplicationController bob");
    assert_eq!(replicas["rule"], "schema");
    let typo = findings
        .iter()
        .find(|f| f["path"] == "spec.templates")
        .expect("spec.templates finding");
    assert!(
        typo["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `template`?"),
        "{typo}"
    );
    let (_, findings) = lint(
        &dir.join(
            "kubernetes-sigs__kubectl-validate__testcases__manifests__error_enum_invalid.yaml",
        ),
        &[],
    );
    assert!(findings.iter().any(|f| {
        f["rule"] == "enum"
            && f["message"]
                .as_str()
                .unwrap()
                .contains("did you mean `UDP`?")
    }));
}

#[test]
fn kind_typos_and_missing_groups_suggest_the_real_kind() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("m.yaml");
    std::fs::write(&f, "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Deployment\nmetadata: {name: b}\n---\napiVersion: apps\nkind: Deployment\nmetadata: {name: c}\n").unwrap();
    let (code, findings) = lint(&f, &[]);
    assert_eq!(code, 1);
    let msgs: Vec<&str> = findings
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains("did you mean apps/v1 Deployment?") && m.contains("Deploymnet")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("no schema for v1 Deployment")
                && m.contains("did you mean apps/v1 Deployment?")),
        "{msgs:?}"
    );
    assert!(
        findings
            .iter()
            .any(|f| f["rule"] == "api-version" && f["line"] == 9),
        "{findings:?}"
    );
}

#[test]
fn bad_input_is_reported_per_file_and_the_rest_is_still_checked() {
    let Some(dir) = shared("corpus/real") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let good = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: good}\ndata: {a: b}\n";
    std::fs::write(d.join("00-empty.yaml"), "").unwrap();
    std::fs::write(d.join("01-dashes.yaml"), "---\n---\n").unwrap();
    std::fs::write(d.join("02-list.yaml"), "- a\n- b\n").unwrap();
    std::fs::write(d.join("03-scalar.yaml"), "just text\n").unwrap();
    std::fs::write(
        d.join("04-binary.yaml"),
        b"apiVersion: v1\nkind: \xff\xfe\n",
    )
    .unwrap();
    std::fs::write(d.join("05-bomb.yaml"), "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\ni: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n").unwrap();
    std::fs::write(d.join("06-helm.yaml"), std::fs::read(dir.join("../real-helm-templates/FairwindsOps__pluto__e2e__tests__assets__chart__templates__deployment-deprecated.yaml")).unwrap()).unwrap();
    std::fs::write(
        d.join("07-dup.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\nmetadata: {name: y}\n",
    )
    .unwrap();
    std::fs::write(d.join("zz-good.yaml"), good).unwrap();
    std::fs::create_dir(d.join("loop")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("..", d.join("loop/parent")).unwrap();
    let start = std::time::Instant::now();
    let (code, findings) = lint(d, &[]);
    // The alias bomb must end, not hang; the bound leaves room for a debug build on a loaded
    // 2-core machine (about 6 s alone, over 20 s beside parallel builds).
    assert!(start.elapsed().as_secs() < 60, "took {:?}", start.elapsed());
    assert_eq!(code, 1);
    let rule_of = |file: &str| -> Vec<String> {
        findings
            .iter()
            .filter(|f| f["file"].as_str().unwrap().ends_with(file))
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(rule_of("00-empty.yaml"), ["empty-file"]);
    assert_eq!(rule_of("01-dashes.yaml"), ["empty-file"]);
    assert_eq!(rule_of("02-list.yaml"), ["not-an-object"]);
    assert_eq!(rule_of("03-scalar.yaml"), ["not-an-object"]);
    assert_eq!(rule_of("04-binary.yaml"), ["unreadable"]);
    assert_eq!(rule_of("05-bomb.yaml"), ["yaml-syntax"], "{findings:?}");
    assert!(rule_of("06-helm.yaml").contains(&"yaml-syntax".to_string()));
    assert_eq!(rule_of("07-dup.yaml"), ["duplicate-key"]);
    assert!(
        rule_of("zz-good.yaml").is_empty(),
        "the good file is still checked and clean"
    );
    assert!(
        findings
            .iter()
            .any(|f| f["message"].as_str().unwrap().contains("symlink loop")),
        "{findings:?}"
    );
}

#[test]
fn a_fifty_megabyte_file_is_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("big.yaml");
    let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-NAME\ndata:\n  payload: \"PAYLOAD\"\n---\n".replace("PAYLOAD", &"x".repeat(10_000));
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 50 << 20 {
        text.push_str(&doc.replace("NAME", &i.to_string()));
        i += 1;
    }
    std::fs::write(&f, text).unwrap();
    let (code, out, _) = kiln(&["lint", f.to_str().unwrap(), "--kube-version", "1.35"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("checked {i} resource(s): 0 error(s)")),
        "{out}"
    );
}

#[test]
fn exit_codes_and_stdin() {
    let Some(dir) = shared("corpus/real") else {
        return;
    };
    let valid = dir.join("yannh__kubeconform__fixtures__valid.yaml");
    let (code, out, err) = kiln(&["lint", valid.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = kiln(&["lint", valid.to_str().unwrap(), "--kube-version", "one"]);
    assert_eq!(code, 2, "{err}");
    let invalid = std::fs::read(dir.join("yannh__kubeconform__fixtures__invalid.yaml")).unwrap();
    let (code, out, err) = Kiln::new(&["lint", "-", "--kube-version", "1.35"])
        .stdin(invalid)
        .run();
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("<stdin>:6:"), "{out}");
}

#[test]
fn junit_and_sarif_are_well_formed() {
    let Some(dir) = shared("corpus/real") else {
        return;
    };
    let files = [
        dir.join("yannh__kubeconform__fixtures__multi_invalid.yaml"),
        dir.join("yannh__kubeconform__fixtures__valid.yaml"),
    ];
    let args = |format: &'static str| -> Vec<String> {
        let mut a = vec!["lint".to_string()];
        a.extend(files.iter().map(|f| f.to_str().unwrap().to_string()));
        a.extend(["--kube-version", "1.35", "--format", format].map(String::from));
        a
    };
    let run = |format: &'static str| {
        let a = args(format);
        kiln(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (code, xml, _) = run("junit");
    assert_eq!(code, 1);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites"));
    assert_eq!(
        xml.matches("<testcase ").count(),
        7,
        "one testcase per resource:\n{xml}"
    );
    assert_eq!(xml.matches("<failure ").count(), 1);
    assert_eq!(
        xml.matches("<testsuite ").count(),
        xml.matches("</testsuite>").count()
    );
    let (code, sarif, _) = run("sarif");
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let result = &v["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "schema");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        12
    );
}

#[test]
fn field_manifests_at_1_16_report_the_removal_and_the_copy_paste_damage() {
    let Some(field) = shared("corpus/field") else {
        return;
    };
    let (code, findings) = {
        let (code, out, err) = kiln(&[
            "lint",
            field.to_str().unwrap(),
            "--kube-version",
            "1.16",
            "--format",
            "json",
        ]);
        assert!(code == 1, "{err}");
        (
            code,
            out.lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(code, 1);
    let at = |rule: &str, file: &str| -> Vec<(i64, String)> {
        findings
            .iter()
            .filter(|f| f["rule"] == rule && f["file"].as_str().unwrap().ends_with(file))
            .map(|f| {
                (
                    f["line"].as_i64().unwrap(),
                    f["message"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let removed = at("removed-api", "ingress-nginx-deploy.yaml");
    assert_eq!(removed.len(), 1, "{findings:?}");
    assert_eq!(removed[0].0, 1);
    assert!(
        removed[0].1.contains("removed in 1.16") && removed[0].1.contains("use apps/v1"),
        "{removed:?}"
    );
    let typo = at("typographic", "ingress-nginx-deploy.yaml");
    let lines: Vec<i64> = typo.iter().map(|t| t.0).collect();
    assert_eq!(
        lines,
        [16, 17, 26, 28, 29, 30],
        "curly quotes on 16-17, em-dash args on 26-30: {typo:?}"
    );
    assert!(typo.iter().filter(|t| t.1.contains("em dash")).count() == 4);
    for f in ["tcp-services-configmap.yaml", "udp-services-configmap.yaml"] {
        let t = at("typographic", f);
        assert_eq!(t.len(), 1, "{f}");
        assert!(t[0].1.contains('“'), "{t:?}");
        assert_eq!(at("configmap-key", f).len(), 1, "the bare `53:` key in {f}");
    }
}

/// Which removals the pluto and kube-no-trouble fixtures expect, and from which version.
const REMOVALS: &[(&str, &str, &str)] = &[
    (
        "FairwindsOps__pluto__e2e__tests__assets__deprecated116__deployment-extensions-v1beta1.yaml",
        "extensions/v1beta1 Deployment",
        "1.16",
    ),
    (
        "FairwindsOps__pluto__e2e__tests__assets__list__list-deployment-deprecated-and-non-deprecated.yaml",
        "extensions/v1beta1 Deployment",
        "1.16",
    ),
    (
        "doitintl__kube-no-trouble__fixtures__deployment-v1beta1.json",
        "extensions/v1beta1 Deployment",
        "1.16",
    ),
    (
        "doitintl__kube-no-trouble__fixtures__deployment-v1beta1-and-ingress-v1beta1.yaml",
        "apps/v1beta1 Deployment",
        "1.16",
    ),
    (
        "doitintl__kube-no-trouble__fixtures__deployment-v1beta1-and-ingress-v1beta1.yaml",
        "extensions/v1beta1 Ingress",
        "1.22",
    ),
    (
        "doitintl__kube-no-trouble__fixtures__ingress-v1beta1.yaml",
        "Ingress",
        "1.22",
    ),
    (
        "doitintl__kube-no-trouble__fixtures__clusterrole-v1beta1.yaml",
        "rbac.authorization.k8s.io/v1beta1 ClusterRole",
        "1.22",
    ),
    (
        "doitintl__kube-no-trouble__fixtures__rolebinding-v1beta1.yaml",
        "rbac.authorization.k8s.io/v1beta1 RoleBinding",
        "1.22",
    ),
    (
        "doitintl__kube-no-trouble__fixtures__customresourcedefinition-v1beta1.yaml",
        "apiextensions.k8s.io/v1beta1 CustomResourceDefinition",
        "1.22",
    ),
    (
        "doitintl__kube-no-trouble__fixtures__validatingwebhookconfiguration-v1beta1.yaml",
        "admissionregistration.k8s.io/v1beta1 ValidatingWebhookConfiguration",
        "1.22",
    ),
    (
        "doitintl__kube-no-trouble__fixtures__ingressclass-v1beta1.yaml",
        "networking.k8s.io/v1beta1 IngressClass",
        "1.22",
    ),
    (
        "doitintl__kube-no-trouble__fixtures__cronjob-v1beta1.yaml",
        "batch/v1beta1 CronJob",
        "1.25",
    ),
    (
        "doitintl__kube-no-trouble__fixtures__poddisruptionbudget-v1beta1.yaml",
        "policy/v1beta1 PodDisruptionBudget",
        "1.25",
    ),
    (
        "doitintl__kube-no-trouble__fixtures__podsecuritypolicy-v1beta1.yaml",
        "policy/v1beta1 PodSecurityPolicy",
        "1.25",
    ),
    (
        "doitintl__kube-no-trouble__fixtures__autoscaler-v2beta1.yaml",
        "autoscaling/v2beta1 HorizontalPodAutoscaler",
        "1.25",
    ),
    (
        "doitintl__kube-no-trouble__fixtures__autoscaler-v2beta2.yaml",
        "autoscaling/v2beta2 HorizontalPodAutoscaler",
        "1.26",
    ),
    (
        "doitintl__kube-no-trouble__fixtures__csistoragecapacity-v1beta1.yaml",
        "storage.k8s.io/v1beta1 CSIStorageCapacity",
        "1.27",
    ),
    (
        "doitintl__kube-no-trouble__fixtures__flowschema-v1beta2.yaml",
        "flowcontrol.apiserver.k8s.io/v1beta2 FlowSchema",
        "1.29",
    ),
];

fn minor(v: &str) -> u32 {
    v.split('.').nth(1).unwrap().parse().unwrap()
}

#[test]
fn pluto_and_kube_no_trouble_fixtures_break_where_they_expect() {
    let Some(dir) = shared("corpus/real") else {
        return;
    };
    for version in ["1.16", "1.22", "1.25", "1.29"] {
        let files: Vec<String> = REMOVALS
            .iter()
            .map(|r| dir.join(r.0).to_str().unwrap().to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut args = vec!["lint", "--kube-version", version, "--format", "json"];
        args.extend(files.iter().map(String::as_str));
        let (code, out, err) = kiln(&args);
        assert_eq!(code, 1, "every version breaks some of them: {err}");
        let findings: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        for (file, what, removed_in) in REMOVALS {
            let hit = findings.iter().any(|f| {
                f["rule"] == "removed-api"
                    && f["file"].as_str().unwrap().ends_with(file)
                    && f["message"].as_str().unwrap().contains(what)
            });
            let expected = minor(removed_in) <= minor(version);
            assert_eq!(
                hit, expected,
                "{file}: {what} at {version} (removed in {removed_in}); {err}"
            );
        }
        // The non-deprecated pluto asset never is.
        let (code, out, _) = kiln(&[
            "lint",
            "--kube-version",
            version,
            dir.join(
                "FairwindsOps__pluto__e2e__tests__assets__non-deprecated__deployment-apps-v1.yaml",
            )
            .to_str()
            .unwrap(),
        ]);
        assert_eq!(code, 0, "{out}");
        assert!(!out.contains("removed-api"), "{out}");
    }
    // kube-no-trouble also reads what was last applied: a warning, so exit 0.
    let (code, out, _) = kiln(&[
        "lint",
        "--kube-version",
        "1.16",
        "--format",
        "json",
        dir.join(
            "doitintl__kube-no-trouble__fixtures__fake-deployment-v1beta1-with-annotation.yaml",
        )
        .to_str()
        .unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("last applied as apps/v1beta1 Deployment"),
        "{out}"
    );
}

#[test]
fn upgrade_to_lists_each_hop() {
    let Some(dir) = shared("corpus/real") else {
        return;
    };
    let f = |n: &str| dir.join(n).to_str().unwrap().to_string();
    let files = [
        f("doitintl__kube-no-trouble__fixtures__cronjob-v1beta1.yaml"),
        f("doitintl__kube-no-trouble__fixtures__autoscaler-v2beta2.yaml"),
        f("doitintl__kube-no-trouble__fixtures__flowschema-v1beta2.yaml"),
    ];
    let mut args = vec![
        "lint",
        "--kube-version",
        "1.22",
        "--upgrade-to",
        "1.29",
        "--format",
        "json",
    ];
    args.extend(files.iter().map(String::as_str));
    let (code, out, _) = kiln(&args);
    assert_eq!(code, 1);
    let hops: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["rule"] == "removed-api")
        .map(|v| v["breaks_at"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(hops, ["1.25", "1.26", "1.29"]);
    let mut args = vec!["lint", "--kube-version", "1.22", "--upgrade-to", "1.29"];
    args.extend(files.iter().map(String::as_str));
    let (code, text, _) = kiln(&args);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("upgrade 1.22 -> 1.29:") && text.contains("  breaks at 1.25: 1 object(s)"),
        "{text}"
    );
}

#[test]
fn severities_from_kiln_yaml_and_suppressions_apply() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let manifest = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - {name: a, image: nginx, resources: {requests: {cpu: 1m}, limits: {cpu: 1m}}}\n";
    std::fs::write(d.join("pod.yaml"), manifest).unwrap();
    let run = |kiln_yaml: Option<&str>| {
        if let Some(text) = kiln_yaml {
            std::fs::write(d.join("kiln.yaml"), text).unwrap();
        }
        let (code, out, err) = kiln_in(
            d,
            &[
                "lint",
                "pod.yaml",
                "--kube-version",
                "1.35",
                "--format",
                "json",
            ],
        );
        let f: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let errors = f.iter().any(|f| f["severity"] == "error");
        assert_eq!(code, i32::from(errors), "{err}");
        (code, f)
    };
    let (code, f) = run(None);
    assert_eq!((code, f.len()), (0, 1));
    assert_eq!(
        (f[0]["rule"].as_str(), f[0]["severity"].as_str()),
        (Some("image-tag"), Some("warning"))
    );
    let env = "environments:\n  dev: {namespace: dev, kubeVersion: \"1.35\"}\n";
    let (code, f) = run(Some(&format!(
        "{env}lint:\n  rules: {{image-tag: error}}\n"
    )));
    assert_eq!((code, f[0]["severity"].as_str()), (1, Some("error")));
    let (code, f) = run(Some(&format!(
        "{env}lint:\n  rules: {{image-tag: \"off\"}}\n"
    )));
    assert_eq!((code, f.len()), (0, 0));
    std::fs::remove_file(d.join("kiln.yaml")).unwrap();
    std::fs::write(
        d.join("pod.yaml"),
        manifest.replace(
            "metadata: {name: a}",
            "metadata: {name: a, annotations: {kiln.dev/ignore: image-tag}}",
        ),
    )
    .unwrap();
    assert_eq!(run(None).1.len(), 0, "suppressed by annotation");
    std::fs::write(
        d.join("pod.yaml"),
        format!("# kiln-ignore: image-tag\n{manifest}"),
    )
    .unwrap();
    assert_eq!(run(None).1.len(), 0, "suppressed by comment");
    let (code, _, err) = kiln_in(d, &["lint", "pod.yaml", "--fail-on", "warning"]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(d.join("pod.yaml"), manifest).unwrap();
    let (code, _, _) = kiln_in(d, &["lint", "pod.yaml", "--fail-on", "warning"]);
    assert_eq!(code, 1, "warnings fail with --fail-on warning");
}

#[test]
fn schema_location_reads_a_kubeconform_layout_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let schemas = d.join("schemas/v1.35.0-standalone-strict");
    std::fs::create_dir_all(&schemas).unwrap();
    std::fs::write(
        schemas.join("widget-example-v1.json"),
        r#"{"type":"object","additionalProperties":false,"required":["spec"],"properties":{"apiVersion":{"type":"string"},"kind":{"type":"string"},"metadata":{"type":"object"},"spec":{"type":"object","additionalProperties":false,"properties":{"size":{"type":"integer"}}}}}"#,
    )
    .unwrap();
    std::fs::write(d.join("w.yaml"), "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x}\nspec: {colour: red}\n").unwrap();
    let location = format!(
        "{}/{{{{ .NormalizedKubernetesVersion }}}}-standalone{{{{ .StrictSuffix }}}}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
        d.join("schemas").display()
    );
    let (code, out, err) = kiln(&[
        "lint",
        d.join("w.yaml").to_str().unwrap(),
        "--kube-version",
        "1.35",
        "--schema-location",
        &location,
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("w.yaml:9:8: error[schema] example.com/v1 Widget x: unknown field `colour`"),
        "{out}"
    );
    assert!(out.contains("checked 2 resource(s): 1 error(s)"), "{out}");
}

/// A Deployment whose findings depend on the service: `image-tag` for a `latest` tag, and a
/// template error for a service marked broken.
const BATCH_DEPLOY: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ service.name }}
  namespace: {{ env.namespace }}
spec:
  selector: {matchLabels: {app: {{ service.name }}}}
  template:
    metadata: {labels: {app: {{ service.name }}}}
    spec:
      containers:
      - name: app
        image: {{ values.image }}
{% if values.broken %}        args: [{{ values.no_such_value }}]
{% endif %}";

/// `kiln check` renders several files, then checks each (`CHECK_BATCH` in src/command/mod.rs):
/// checked together in batches, 11 services in two environments get exactly the findings each
/// gets checked alone, and a service whose template fails in the middle of a batch is named.
#[test]
fn checking_in_batches_finds_what_checking_each_service_alone_finds() {
    let mut files: Vec<(String, String)> = vec![
        (
            "kiln.yaml".into(),
            "environments:\n  dev: {namespace: dev, kubeVersion: \"1.35\"}\n  prod: {namespace: prod, kubeVersion: \"1.35\"}\n".into(),
        ),
        ("templates/web/deploy.yaml.j2".into(), BATCH_DEPLOY.into()),
        ("values/defaults.yaml".into(), "template: web\nbroken: false\n".into()),
    ];
    let services: Vec<String> = (1..=11).map(|i| format!("svc-{i:02}")).collect();
    for (i, s) in services.iter().enumerate() {
        let tag = if i % 3 == 0 { "latest" } else { "1.0.0" };
        files.push((
            format!("values/services/{s}.yaml"),
            format!("image: registry.example.com/{s}:{tag}\n"),
        ));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let p = project(&refs);
    let findings = |out: &str| -> Vec<String> {
        let mut lines: Vec<String> = out
            .lines()
            .filter(|l| l.contains("warning[") || l.contains("error["))
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    let (code, out, err) = kiln_in(p.path(), &["check"]);
    assert_eq!(code, 0, "{out}{err}");
    let together = findings(&out);
    // Two environments: each service's container sets no resources, and 4 use `latest`.
    assert_eq!(together.len(), 2 * (11 + 4), "{out}");
    let mut alone = Vec::new();
    for s in &services {
        let (code, out, err) = kiln_in(p.path(), &["check", "--service", s]);
        assert_eq!(code, 0, "{s}: {out}{err}");
        alone.extend(findings(&out));
    }
    alone.sort();
    assert_eq!(together, alone);

    // Drift from golden/ pairs each file with its own recorded one, batch or not.
    let (code, out, err) = kiln_in(p.path(), &["golden", "update"]);
    assert_eq!(code, 0, "{out}{err}");
    write(
        p.path(),
        "values/services/svc-07.yaml",
        "image: registry.example.com/svc-07:2.0.0\n",
    );
    let (code, out, err) = kiln_in(p.path(), &["check"]);
    assert_eq!(code, 1, "{out}{err}");
    let drift: Vec<&str> = out.lines().filter(|l| l.contains("golden-drift")).collect();
    assert_eq!(drift.len(), 2, "{out}");
    assert!(
        drift
            .iter()
            .all(|l| l.contains("1 changed, 0 added, 0 removed")),
        "{out}"
    );
    let changed: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("svc-"))
        .filter(|l| !l.contains("warning["))
        .collect();
    assert!(changed.iter().all(|l| l.contains("svc-07")), "{out}");
    assert!(out.contains("2.0.0"), "{out}");

    write(
        p.path(),
        "values/services/svc-05.yaml",
        "image: registry.example.com/svc-05:1.0.0\nbroken: true\n",
    );
    let (code, out, err) = kiln_in(p.path(), &["check"]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        err.contains("svc-05") && err.contains("no_such_value"),
        "{err}"
    );
    for other in services.iter().filter(|s| *s != "svc-05") {
        assert!(!err.contains(other.as_str()), "{other}: {err}");
    }
}
