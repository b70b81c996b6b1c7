//! `kiln schemas import` and `kiln schemas list`: the Kubernetes OpenAPI documents in
//! ../shared/k8s-openapi (v2 1.17..1.21, v3 folders 1.23..1.35) and CRDs from the corpus become
//! schema caches that `kiln lint` uses before the embedded schemas; and the upstream 1.35 OpenAPI
//! v3 documents, imported, give the same verdict as the embedded 1.35 schemas on every document
//! of ../shared/corpus (the exceptions are listed with their reasons).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::{kiln, kiln_in, shared};

/// `kiln schemas import`, which must succeed; returns its output.
fn import(args: &[&str]) -> String {
    let mut all = vec!["schemas", "import"];
    all.extend_from_slice(args);
    let (code, out, err) = kiln(&all);
    assert_eq!(code, 0, "kiln {all:?}: {err}");
    out
}

/// `kiln lint --format json` findings.
fn lint(paths: &[&str], version: &str, cache: &Path) -> Vec<Value> {
    let mut args = vec!["lint"];
    args.extend_from_slice(paths);
    let cache = cache.to_str().unwrap();
    args.extend_from_slice(&[
        "--kube-version",
        version,
        "--format",
        "json",
        "--schema-cache",
        cache,
    ]);
    let (code, out, err) = kiln(&args);
    let findings: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Exit 1 exactly when there are error findings.
    let errors = findings.iter().any(|f| f["severity"] == "error");
    assert_eq!(code, i32::from(errors), "kiln {args:?}: {err}");
    findings
}

fn is_schema_rule(f: &Value) -> bool {
    matches!(f["rule"].as_str(), Some("schema" | "no-schema"))
}

/// The schema and no-schema findings, as `rule: message`.
fn schema_findings(findings: &[Value]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| is_schema_rule(f))
        .map(|f| {
            format!(
                "{}: {}",
                f["rule"].as_str().unwrap(),
                f["message"].as_str().unwrap()
            )
        })
        .collect()
}

fn read_gz_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .read_to_string(&mut text)
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn index(cache: &Path, version: &str) -> Value {
    let text = std::fs::read_to_string(cache.join(version).join("index.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The upstream 1.35 OpenAPI v3 folder (../shared/k8s-openapi/v3/1.35) imported once (shared by
/// the tests that need it), with the time the import took.
fn imported_1_35(folder: &Path) -> &'static (tempfile::TempDir, std::time::Duration) {
    static CACHE: OnceLock<(tempfile::TempDir, std::time::Duration)> = OnceLock::new();
    CACHE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        let out = import(&[
            folder.to_str().unwrap(),
            "--kube-version",
            "1.35",
            "--schema-cache",
            dir.path().to_str().unwrap(),
        ]);
        let took = started.elapsed();
        assert!(
            out.starts_with("imported ") && out.contains(" kinds for Kubernetes 1.35 into "),
            "{out}"
        );
        (dir, took)
    })
}

#[test]
fn openapi_v2_checks_old_manifests_against_their_own_version() {
    let Some(swagger) = shared("k8s-openapi/v1.21.swagger.json") else {
        return;
    };
    let Some(corpus) = shared("corpus/real") else {
        return;
    };
    let real = |file: &str| corpus.join(file).display().to_string();
    let cache = tempfile::tempdir().unwrap();
    let c = cache.path().to_str().unwrap();
    // The version comes from the document's `info.version` (v1.21.2).
    let out = import(&[swagger.to_str().unwrap(), "--schema-cache", c]);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with("imported ")
            && out.ends_with(&format!(" kinds for Kubernetes 1.21 into {c}\n")),
        "{out}"
    );

    // The embedded layout: index.json + one strict, self-contained gzipped schema per kind.
    let idx = index(cache.path(), "1.21");
    assert_eq!(idx["kubeVersion"], "1.21");
    let kinds = idx["kinds"].as_object().unwrap();
    assert_eq!(kinds["apps/v1/Deployment"], "apps_v1_deployment.json.gz");
    assert_eq!(kinds["v1/ConfigMap"], "core_v1_configmap.json.gz");
    assert_eq!(
        kinds["extensions/v1beta1/Ingress"],
        "extensions_v1beta1_ingress.json.gz"
    );
    assert!(
        !kinds.contains_key("apps/v1/DeploymentList"),
        "lists are not kinds"
    );
    assert!(!kinds.contains_key("v1/DeleteOptions"));
    for file in kinds.values() {
        assert!(
            cache
                .path()
                .join("1.21")
                .join(file.as_str().unwrap())
                .is_file()
        );
    }
    let deployment = read_gz_json(&cache.path().join("1.21/apps_v1_deployment.json.gz"));
    assert_eq!(
        deployment["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(deployment["additionalProperties"], false);
    assert_eq!(deployment["type"], "object");
    let text = deployment.to_string();
    assert!(
        !text.contains("\"description\""),
        "descriptions are dropped"
    );
    assert!(!text.contains("#/definitions/"), "refs point into $defs");
    assert!(!text.contains("x-kubernetes-"));
    assert!(deployment["$defs"]["io.k8s.api.apps.v1.DeploymentSpec"].is_object());
    assert!(
        deployment["$defs"]
            .get("io.k8s.api.batch.v1.JobSpec")
            .is_none(),
        "only referenced definitions"
    );

    // apps/v1 and the era's extensions/v1beta1 Ingress (served until 1.22) validate against the
    // imported 1.21 schemas, not against the nearest embedded version.
    let valid_at_1_21 = [
        real("FairwindsOps__pluto__e2e__tests__assets__non-deprecated__deployment-apps-v1.yaml"),
        real("kubernetes__examples__databases__cassandra__cassandra-statefulset.yaml"),
        real("doitintl__kube-no-trouble__fixtures__ingress-v1beta1.yaml"),
    ];
    let paths: Vec<&str> = valid_at_1_21.iter().map(String::as_str).collect();
    let findings = lint(&paths, "1.21", cache.path());
    assert_eq!(schema_findings(&findings), Vec::<String>::new());
    assert!(
        !findings
            .iter()
            .any(|f| f["message"].as_str().unwrap().contains("no schemas for")),
        "{findings:?}"
    );
    // Without the import, 1.21 falls back to the nearest embedded version, which has no
    // extensions/v1beta1 Ingress: 1.21 still serves it, so it is skipped, not reported.
    let empty = tempfile::tempdir().unwrap();
    let without = lint(&paths, "1.21", empty.path());
    assert!(
        !without.iter().any(|f| f["rule"] == "no-schema"),
        "{without:?}"
    );

    // Still strict: gRPC probes came in 1.24, so 1.21 does not know the field.
    let adservice =
        real("GoogleCloudPlatform__microservices-demo__kubernetes-manifests__adservice.yaml");
    let findings = schema_findings(&lint(&[&adservice], "1.21", cache.path()));
    assert!(
        findings
            .iter()
            .any(|f| f.starts_with("schema: unknown field `grpc`")),
        "{findings:?}"
    );
    let typo = cache.path().join("typo.yaml");
    std::fs::write(
        &typo,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicaz: 2\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx:1.21}]}\n",
    )
    .unwrap();
    let findings = schema_findings(&lint(&[typo.to_str().unwrap()], "1.21", cache.path()));
    assert_eq!(
        findings,
        ["schema: unknown field `replicaz`: did you mean `replicas`?"]
    );
}

#[test]
fn openapi_v3_folders_import_per_version() {
    let Some(openapi) = shared("k8s-openapi/v3") else {
        return;
    };
    let Some(corpus) = shared("corpus/real") else {
        return;
    };
    let real = |file: &str| corpus.join(file).display().to_string();
    let cache = tempfile::tempdir().unwrap();
    let c = cache.path().to_str().unwrap();
    // kube-apiserver's v3 documents say `unversioned`: the folder's name gives the version.
    let folder = openapi.join("1.29");
    let out = import(&[folder.to_str().unwrap(), "--schema-cache", c]);
    assert!(out.contains(" kinds for Kubernetes 1.29 into "), "{out}");
    let idx = index(cache.path(), "1.29");
    assert_eq!(
        idx["kinds"]["apps/v1/Deployment"],
        "apps_v1_deployment.json.gz"
    );
    assert_eq!(
        idx["kinds"]["flowcontrol.apiserver.k8s.io/v1beta3/FlowSchema"],
        "flowcontrol.apiserver.k8s.io_v1beta3_flowschema.json.gz"
    );
    // v3's `allOf: [{$ref}]` wrappers are gone, IntOrString and Quantity are inlined.
    let deployment = read_gz_json(&cache.path().join("1.29/apps_v1_deployment.json.gz"));
    let text = deployment.to_string();
    assert!(
        !text.contains("allOf") && !text.contains("#/components/"),
        "{text:.300}"
    );
    assert_eq!(
        deployment["$defs"]["io.k8s.api.apps.v1.RollingUpdateDeployment"]["properties"]["maxSurge"],
        serde_json::json!({"type": ["integer", "string", "null"]})
    );
    assert!(
        !deployment["$defs"]
            .as_object()
            .unwrap()
            .contains_key("io.k8s.apimachinery.pkg.util.intstr.IntOrString")
    );

    let findings = lint(
        &[
            &real("yannh__kubeconform__fixtures__valid.yaml"),
            &real("yannh__kubeconform__fixtures__invalid.yaml"),
        ],
        "1.29",
        cache.path(),
    );
    let by_file = |name: &str| -> Vec<String> {
        let only: Vec<Value> = findings
            .iter()
            .filter(|f| f["file"].as_str().unwrap().ends_with(name))
            .cloned()
            .collect();
        schema_findings(&only)
    };
    assert_eq!(by_file("fixtures__valid.yaml"), Vec::<String>::new());
    assert!(
        by_file("fixtures__invalid.yaml")
            .iter()
            .any(|f| f.contains("unknown field `templates`: did you mean `template`?")),
        "{findings:?}"
    );

    // 1.35 next to it (imported once for the whole suite, into its own cache), and what
    // `schemas list` says about both caches.
    let (cache_1_35, _) = imported_1_35(&openapi.join("1.35"));
    let idx = index(cache_1_35.path(), "1.35");
    let n = idx["kinds"].as_object().unwrap().len();
    assert!(n > 90, "{n} kinds");
    let (code, out, err) = kiln(&["schemas", "list", "--schema-cache", c]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["SOURCE", "VERSION", "KINDS"]);
    let n_1_29 = index(cache.path(), "1.29")["kinds"]
        .as_object()
        .unwrap()
        .len()
        .to_string();
    assert!(
        rows.contains(&vec!["cache", c, "1.29", n_1_29.as_str()]),
        "{out}"
    );
    for v in ["1.33", "1.34", "1.35", "1.36", "1.37"] {
        assert!(
            rows.iter().any(|r| r[0] == "embedded" && r[1] == v),
            "{out}"
        );
    }
    let c_1_35 = cache_1_35.path().to_str().unwrap();
    let (code, out, _) = kiln(&["schemas", "list", "--schema-cache", c_1_35]);
    assert_eq!(code, 0, "{out}");
    let n = n.to_string();
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["cache", c_1_35, "1.35", &n]),
        "{out}"
    );

    // A document that says no version, in a folder that does not either: the flag is needed.
    let v3 = cache.path().join("v1.json");
    std::fs::write(
        &v3,
        r#"{"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "unversioned"},
            "components": {"schemas": {"io.k8s.api.core.v1.Thing": {"type": "object",
              "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"}},
              "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "Thing"}]}}}}"#,
    )
    .unwrap();
    let (code, _, err) = kiln(&[
        "schemas",
        "import",
        v3.to_str().unwrap(),
        "--schema-cache",
        c,
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("`unversioned`") && err.contains("--kube-version X.Y"),
        "{err}"
    );
    let out = import(&[
        v3.to_str().unwrap(),
        "--schema-cache",
        c,
        "--kube-version",
        "1.29",
    ]);
    assert_eq!(
        out,
        format!("imported 1 kind for Kubernetes 1.29 into {c}\n")
    );
    // Merged into the version's index, not replacing it.
    let merged = index(cache.path(), "1.29");
    assert_eq!(merged["kinds"]["v1/Thing"], "core_v1_thing.json.gz");
    assert_eq!(
        merged["kinds"]["apps/v1/Deployment"],
        "apps_v1_deployment.json.gz"
    );
}

/// A v1 CRD with per-version schemas: v1alpha1 and v1 served (different fields), v0 not served;
/// beside it a ConfigMap, which the import skips.
const WIDGETS: &str = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: not-a-crd}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets}
  versions:
  - name: v1alpha1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, minimum: 1, exclusiveMinimum: true}
              port: {x-kubernetes-int-or-string: true, anyOf: [{type: integer}, {type: string}]}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        required: [spec]
        properties:
          spec:
            type: object
            required: [replicas]
            properties:
              replicas: {type: integer}
              mode: {type: string, enum: [fast, safe]}
              template:
                type: object
                x-kubernetes-embedded-resource: true
                properties:
                  spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
  - name: v0
    served: false
    storage: false
";

const WIDGET_OBJECTS: &str = "\
apiVersion: example.com/v1alpha1
kind: Widget
metadata: {name: a, labels: {app: a}}
spec: {size: 3, port: http, extra: {anything: [1, 2]}}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: b}
spec:
  replicas: 2
  mode: null
  template: {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: []}}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: c}
spec: {replicas: 1, size: 3, mode: slow}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: d}
---
apiVersion: example.com/v1alpha1
kind: Widget
metadata: {name: f}
spec: {size: 1, port: 8080, extra: null}
---
apiVersion: example.com/v0
kind: Widget
metadata: {name: e}
";

#[test]
fn crds_make_their_custom_resources_checkable() {
    let Some(corpus) = shared("corpus/real") else {
        return;
    };
    let real = |file: &str| corpus.join(file).display().to_string();
    let cache = tempfile::tempdir().unwrap();
    let c = cache.path().to_str().unwrap();
    let training_job = real("yannh__kubeconform__fixtures__test_crd.yaml");
    let before = schema_findings(&lint(&[&training_job], "1.35", cache.path()));
    assert_eq!(before.len(), 1);
    assert!(
        before[0].starts_with("no-schema: no schema for sagemaker.aws.amazon.com/v1 TrainingJob")
    );

    // apiextensions v1beta1: `spec.validation.openAPIV3Schema` applies to every version.
    let crd = real("yannh__kubeconform__fixtures__crd_schema.yaml");
    let out = import(&[&crd, "--kube-version", "1.35", "--schema-cache", c]);
    assert_eq!(
        out,
        format!("imported 1 kind for Kubernetes 1.35 into {c}\n")
    );
    assert_eq!(
        index(cache.path(), "1.35")["kinds"]["sagemaker.aws.amazon.com/v1/TrainingJob"],
        "sagemaker.aws.amazon.com_v1_trainingjob.json.gz"
    );
    assert_eq!(
        schema_findings(&lint(&[&training_job], "1.35", cache.path())),
        Vec::<String>::new()
    );
    // Strict, metadata included (the CRD's own metadata schema gives way to ObjectMeta's).
    let text = std::fs::read_to_string(&training_job)
        .unwrap()
        .replace("  roleArn:", "  roleARN:")
        .replace(
            "  name: xgboost-mnist-debugger",
            "  name: xgboost-mnist-debugger\n  lables: {a: b}",
        )
        .replace("instanceCount: 1", "instanceCount: one");
    let broken = cache.path().join("trainingjob.yaml");
    std::fs::write(&broken, text).unwrap();
    let mut findings = schema_findings(&lint(&[broken.to_str().unwrap()], "1.35", cache.path()));
    findings.sort();
    assert_eq!(
        findings,
        [
            "schema: \"one\" is not of type \"integer\" (at `spec.resourceConfig.instanceCount`)",
            "schema: \"roleArn\" is a required property (at `spec`)",
            "schema: unknown field `lables`: did you mean `labels`?",
            "schema: unknown field `roleARN`: did you mean `roleArn`?",
        ]
    );

    // apiextensions v1, per-version schemas; without --kube-version a CRD goes into every
    // version there are schemas for (here: the one in the cache, and the embedded ones).
    let crds = cache.path().join("widgets-crd.yaml");
    std::fs::write(&crds, WIDGETS).unwrap();
    let out = import(&[crds.to_str().unwrap(), "--schema-cache", c]);
    for v in ["1.33", "1.34", "1.35", "1.36", "1.37"] {
        assert!(
            out.contains(&format!("imported 2 kinds for Kubernetes {v} into {c}\n")),
            "{out}"
        );
    }
    assert!(
        out.ends_with(
            "skipped 1 document beside the CRDs that are not CustomResourceDefinitions\n"
        ),
        "{out}"
    );
    let idx = index(cache.path(), "1.35");
    let kinds: BTreeSet<&String> = idx["kinds"].as_object().unwrap().keys().collect();
    assert_eq!(
        kinds.into_iter().map(String::as_str).collect::<Vec<_>>(),
        [
            "example.com/v1/Widget",
            "example.com/v1alpha1/Widget",
            "sagemaker.aws.amazon.com/v1/TrainingJob"
        ],
        "merged with the index already there; v0 is not served"
    );
    let objects = cache.path().join("widgets.yaml");
    std::fs::write(&objects, WIDGET_OBJECTS).unwrap();
    let findings = lint(&[objects.to_str().unwrap()], "1.34", cache.path());
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in findings.iter().filter(|f| is_schema_rule(f)) {
        let name = f["resource"]
            .as_str()
            .unwrap()
            .rsplit(' ')
            .next()
            .unwrap()
            .to_string();
        by_name.entry(name).or_default().push(format!(
            "{}: {}",
            f["rule"].as_str().unwrap(),
            f["message"].as_str().unwrap()
        ));
    }
    assert_eq!(by_name.get("a"), None, "{by_name:?}");
    assert_eq!(by_name.get("b"), None, "{by_name:?}");
    let mut c_findings = by_name["c"].clone();
    c_findings.sort();
    assert_eq!(
        c_findings,
        [
            "schema: \"slow\" is not one of \"fast\", \"safe\" or null (at `spec.mode`)",
            "schema: unknown field `size` in example.com/v1 Widget",
        ]
    );
    assert_eq!(by_name["d"], ["schema: \"spec\" is a required property"]);
    // OpenAPI 3.0's boolean `exclusiveMinimum` (size > 1), as draft 2020-12 says it.
    assert_eq!(
        by_name["f"],
        ["schema: 1 is less than or equal to the minimum of 1 (at `spec.size`)"]
    );
    assert!(
        by_name["e"][0].starts_with("no-schema: no schema for example.com/v0 Widget"),
        "{by_name:?}"
    );

    // A CRD the API server would refuse is refused, and nothing is written.
    let empty = tempfile::tempdir().unwrap();
    let typo = real("kubernetes-sigs__kubectl-validate__testcases__manifests__error_crd_typo.yaml");
    let (code, _, err) = kiln(&[
        "schemas",
        "import",
        &typo,
        "--kube-version",
        "1.35",
        "--schema-cache",
        empty.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`openAPIV3Schema.properties[spec].properties[message].type` is \"strign\""),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}

#[test]
fn the_cache_defaults_to_the_projects_and_inputs_are_recognised_by_content() {
    let Some(corpus) = shared("corpus/real") else {
        return;
    };
    let real = |file: &str| corpus.join(file).display().to_string();
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("kiln.yaml"),
        "environments:\n  dev: {namespace: dev, kubeVersion: \"1.35\"}\n",
    )
    .unwrap();
    // Inside a project: its `.kiln/schemas`; `kiln lint` there uses it without flags.
    let crd = real("yannh__kubeconform__fixtures__crd_schema.yaml");
    let (code, out, err) = kiln_in(
        project.path(),
        &["schemas", "import", &crd, "--kube-version", "1.35"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "imported 1 kind for Kubernetes 1.35 into .kiln/schemas\n"
    );
    assert!(
        project
            .path()
            .join(".kiln/schemas/1.35/index.json")
            .is_file()
    );
    let training_job = real("yannh__kubeconform__fixtures__test_crd.yaml");
    let (code, out, err) = kiln_in(
        project.path(),
        &[
            "lint",
            &training_job,
            "--kube-version",
            "1.35",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = kiln_in(project.path(), &["schemas", "list"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines().nth(1).is_some_and(|l| {
            l.split_whitespace().collect::<Vec<_>>() == ["cache", ".kiln/schemas", "1.35", "1"]
        }),
        "{out}"
    );

    // Outside a project, the cache must be named.
    let (code, _, err) = kiln(&["schemas", "import", &crd]);
    assert_eq!(code, 2);
    assert!(
        err.contains("not inside a kiln project") && err.contains("--schema-cache"),
        "{err}"
    );
    // `list` still shows the embedded schemas.
    let (code, out, _) = kiln(&["schemas", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.lines().skip(1).all(|l| l.starts_with("embedded ")),
        "{out}"
    );

    // Content, not names, decides: a manifest that is no CRD is refused.
    let cache = tempfile::tempdir().unwrap();
    let configmap = real("kubernetes-sigs__kubectl-validate__testcases__manifests__configmap.yaml");
    let (code, _, err) = kiln(&[
        "schemas",
        "import",
        &configmap,
        "--schema-cache",
        cache.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("is neither an OpenAPI v2 document, an OpenAPI v3 document nor CustomResourceDefinitions"),
        "{err}"
    );
    let (code, _, err) = kiln(&[
        "schemas",
        "import",
        &configmap,
        "--kube-version",
        "1.x",
        "--schema-cache",
        cache.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("`--kube-version 1.x` is not a version"),
        "{err}"
    );
}

/// Documents on which the embedded 1.35 schemas (from k8s-openapi) and the imported upstream
/// 1.35 OpenAPI v3 documents disagree: (file, resource, embedded verdict, imported verdict,
/// reason). Each comes from a difference between the two upstreams listed in xtask/README.md
/// ("Known differences from the API server's OpenAPI").
const EXCEPTIONS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "kubernetes-sigs__kubectl-validate__testcases__manifests__error_missing_name.yaml",
        "v1 ConfigMap",
        "invalid",
        "valid",
        "no `metadata`: k8s-openapi makes `metadata` required on every kind, upstream OpenAPI \
         on none (the API server requires metadata.name; kiln's `metadata-name` rule reports it \
         with either schema source)",
    ),
    (
        "kubernetes-sigs__kubectl-validate__testcases__manifests__error_multiple_resources_all_invalid.yaml",
        "v1 ConfigMap",
        "invalid",
        "valid",
        "no `metadata`: as above",
    ),
];

/// Per document (file name, resource): "invalid" (schema findings) or "no-schema", with the
/// fields the schema findings point at. Documents missing from the map are valid.
fn verdicts(findings: &[Value]) -> BTreeMap<(String, String), (String, BTreeSet<String>)> {
    let mut out: BTreeMap<(String, String), (String, BTreeSet<String>)> = BTreeMap::new();
    for f in findings.iter().filter(|f| is_schema_rule(f)) {
        let file = f["file"].as_str().unwrap();
        let file = Path::new(file)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let resource = f["resource"]
            .as_str()
            .map_or_else(|| format!("line {}", f["line"]), str::to_string);
        let entry = out
            .entry((file, resource))
            .or_insert_with(|| ("invalid".to_string(), BTreeSet::new()));
        if f["rule"] == "no-schema" {
            entry.0 = "no-schema".into();
        } else {
            entry.1.insert(f["path"].as_str().unwrap_or("").to_string());
        }
    }
    out
}

#[test]
fn imported_upstream_1_35_gives_the_embedded_verdicts_on_the_whole_corpus() {
    let Some(folder) = shared("k8s-openapi/v3/1.35") else {
        return;
    };
    let Some(real_dir) = shared("corpus/real") else {
        return;
    };
    let Some(field_dir) = shared("corpus/field") else {
        return;
    };
    let (imported, took) = imported_1_35(&folder);
    // The suite must stay fast: the whole 1.35 folder (11 MB, 36 documents) imports in about
    // half a second in a debug build.
    assert!(took.as_secs() < 10, "importing v3/1.35 took {took:?}");
    let empty = tempfile::tempdir().unwrap();
    let corpus = [real_dir.to_str().unwrap(), field_dir.to_str().unwrap()];
    let embedded = verdicts(&lint(&corpus, "1.35", empty.path()));
    let upstream = verdicts(&lint(&corpus, "1.35", imported.path()));
    assert!(
        embedded.len() > 20,
        "the corpus has many invalid documents: {}",
        embedded.len()
    );

    let verdict = |m: &BTreeMap<(String, String), (String, BTreeSet<String>)>,
                   k: &(String, String)| {
        m.get(k).map_or("valid", |(v, _)| v.as_str()).to_string()
    };
    let keys: BTreeSet<&(String, String)> = embedded.keys().chain(upstream.keys()).collect();
    let mut differences = Vec::new();
    let mut used = BTreeSet::new();
    for key in keys {
        let (e, u) = (verdict(&embedded, key), verdict(&upstream, key));
        let excepted = EXCEPTIONS
            .iter()
            .position(|(f, r, ev, uv, _)| *f == key.0 && *r == key.1 && *ev == e && *uv == u);
        if let Some(i) = excepted {
            used.insert(i);
            continue;
        }
        if e != u {
            differences.push(format!("{} [{}]: embedded {e}, imported {u}", key.0, key.1));
        } else if e == "invalid" && embedded[key].1 != upstream[key].1 {
            // Both reject it: for the same fields.
            differences.push(format!(
                "{} [{}]: embedded rejects {:?}, imported {:?}",
                key.0, key.1, embedded[key].1, upstream[key].1
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "the embedded and imported 1.35 schemas disagree (add to EXCEPTIONS only with a reason):\n{}",
        differences.join("\n")
    );
    let stale: Vec<&str> = (0..EXCEPTIONS.len())
        .filter(|i| !used.contains(i))
        .map(|i| EXCEPTIONS[i].0)
        .collect();
    assert!(
        stale.is_empty(),
        "exceptions that no longer apply: {stale:?}"
    );
}
