//! `patches:` in values layers: the kustomize oracle (kiln's patched objects equal
//! `kubectl kustomize`'s for the same base and patch, recorded per case in
//! `tests/fixtures/patches/`), and bad patches as located errors.

use serde_json::{Value, json};

use crate::support::{kiln_in, project, tool, write};

const TEMPLATE: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ service.name }}
  labels: {app: {{ service.name }}, tier: backend}
spec:
  replicas: 2
  selector: {matchLabels: {app: {{ service.name }}}}
  template:
    metadata:
      labels: {app: {{ service.name }}}
    spec:
      imagePullSecrets: [{name: regcred}]
      containers:
      - name: app
        image: registry.example.com/web:1.0.0
        args: ["--port=8080", "--verbose"]
        ports: [{name: http, containerPort: 8080}]
        env:
        - {name: A, value: "1"}
        - {name: B, value: "2"}
        resources: {limits: {cpu: "1", memory: 1Gi}, requests: {cpu: 100m, memory: 256Mi}}
        volumeMounts: [{name: logs, mountPath: /logs}]
      - name: filebeat
        image: docker.elastic.co/beats/filebeat:8.15.3
        volumeMounts: [{name: logs, mountPath: /logs, readOnly: true}]
      volumes: [{name: logs, emptyDir: {}}]
---
apiVersion: v1
kind: Service
metadata:
  name: {{ service.name }}
spec:
  selector: {app: {{ service.name }}}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: admin, port: 9000, targetPort: 9000}
"#;

fn web_project() -> tempfile::TempDir {
    project(&[
        (
            "kiln.yaml",
            "environments:\n  dev: {namespace: dev, kubeVersion: \"1.35\"}\n",
        ),
        ("templates/web/web.yaml.j2", TEMPLATE),
        ("values/defaults.yaml", "template: web\n"),
        ("values/services/web.yaml", "{}\n"),
    ])
}

/// The documents of a YAML stream as JSON values.
fn docs(text: &str) -> Vec<Value> {
    kiln::yaml::parse_stream(text, 0, kiln::yaml::Dialect::Kube)
        .unwrap()
        .iter()
        .map(|n| serde_json::to_value(n).unwrap())
        .collect()
}

/// Lists merged by key are compared by key: kustomize puts patched items first, kiln keeps the
/// base order and appends (as `kubectl` does), which the README documents.
fn by_key(v: &mut Value) {
    match v {
        Value::Object(m) => m.values_mut().for_each(by_key),
        Value::Array(items) => {
            items.iter_mut().for_each(by_key);
            let key = ["name", "mountPath", "containerPort", "port"]
                .into_iter()
                .find(|k| !items.is_empty() && items.iter().all(|i| i.get(*k).is_some()));
            if let Some(k) = key {
                items.sort_by_key(|i| i[k].to_string());
            }
        }
        _ => {}
    }
}

fn object<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter().find(|d| d["kind"] == kind).unwrap()
}

/// Every case under `tests/fixtures/patches/` (see its README): kiln's patched Deployment and
/// Service equal `expected.yaml`, which is what `kubectl kustomize` makes of the same base and
/// patch; when kubectl is here, it is asked again, so the fixtures cannot drift from the oracle.
#[test]
fn patches_match_kubectl_kustomize() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/patches");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 15, "only {} cases", cases.len());
    let kubectl = tool("kubectl");
    let p = web_project();
    let (code, base, err) = kiln_in(p.path(), &["render", "--stdout"]);
    assert_eq!(code, 0, "{err}");
    for case in cases {
        let what = case.file_name().unwrap().to_string_lossy().to_string();
        let entry = &docs(&std::fs::read_to_string(case.join("patch.yaml")).unwrap())[0];
        let expected = docs(&std::fs::read_to_string(case.join("expected.yaml")).unwrap());
        // kiln
        write(
            p.path(),
            "values/services/web.dev.yaml",
            json!({"patches": [entry]}).to_string(),
        );
        let (code, ours, err) = kiln_in(p.path(), &["render", "--stdout"]);
        assert_eq!(code, 0, "{what}: {err}");
        let ours = docs(&ours);
        let mut sides = vec![("kiln", ours)];
        // kustomize, on kiln's unpatched output
        if let Some(kubectl) = &kubectl {
            sides.push(("kubectl kustomize", kustomize(kubectl, &base, entry)));
        }
        for (who, got) in sides {
            for kind in ["Deployment", "Service"] {
                let (mut a, mut b) = (object(&got, kind).clone(), object(&expected, kind).clone());
                by_key(&mut a);
                by_key(&mut b);
                assert_eq!(a, b, "{what}: {who}'s {kind} differs from expected.yaml");
            }
        }
    }
}

/// `kubectl kustomize` of `base` with the kiln patch `entry` (its target and its `strategic`
/// or `json` patch) as a kustomize patch.
fn kustomize(kubectl: &std::path::Path, base: &str, entry: &Value) -> Vec<Value> {
    let (kind, name) = (
        entry["target"]["kind"].as_str().unwrap(),
        entry["target"]["name"].as_str().unwrap(),
    );
    let body = if let Some(patch) = entry.get("strategic") {
        let mut b = patch.clone();
        b["apiVersion"] = json!(if kind == "Service" { "v1" } else { "apps/v1" });
        b["kind"] = json!(kind);
        if b.get("metadata").is_none() {
            b["metadata"] = json!({});
        }
        b["metadata"]["name"] = json!("web");
        b
    } else {
        entry["json"].clone()
    };
    let k = tempfile::tempdir().unwrap();
    write(k.path(), "base.yaml", base);
    let kustomization = json!({
        "resources": ["base.yaml"],
        "patches": [{"target": {"kind": kind, "name": name.replace('*', ".*")}, "patch": body.to_string()}],
    });
    write(k.path(), "kustomization.yaml", kustomization.to_string());
    let out = std::process::Command::new(kubectl)
        .arg("kustomize")
        .arg(k.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kustomize: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    docs(&String::from_utf8(out.stdout).unwrap())
}

#[test]
fn null_deletes_a_key_as_kubectl_does() {
    // Not in the oracle: `kubectl kustomize` 5.5 writes the string "null" for a null in an
    // inline patch with a target; `kubectl patch --type strategic` deletes the key, as kiln does.
    let p = web_project();
    write(
        p.path(),
        "values/services/web.dev.yaml",
        "patches:\n  - target: {kind: Deployment}\n    strategic: {metadata: {labels: {tier: null}}}\n",
    );
    let (code, out, err) = kiln_in(p.path(), &["render", "--stdout"]);
    assert_eq!(code, 0, "{err}");
    let d = docs(&out);
    assert_eq!(
        object(&d, "Deployment")["metadata"]["labels"],
        json!({"app": "web"})
    );
}

fn refused(values: &str, want: &[&str]) {
    let p = web_project();
    write(p.path(), "values/services/web.dev.yaml", values);
    let (code, out, err) = kiln_in(p.path(), &["render", "--stdout"]);
    assert_eq!(code, 1, "{values}\n{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("values/services/web.dev.yaml:"),
        "not located: {err}"
    );
    for w in want {
        assert!(err.contains(w), "{values}: lacks {w}:\n{err}");
    }
    assert_eq!(err.matches("error:").count(), 1, "one error: {err}");
}

#[test]
fn bad_patches_are_one_located_error_each() {
    refused(
        "patches:\n  - target: {kind: Job}\n    json: []\n",
        &["matches no object", "kind `Job`"],
    );
    refused(
        "patches:\n  - json:\n      - {op: remove, path: /spec/nope}\n",
        &["path `/spec/nope` does not exist"],
    );
    refused(
        "patches:\n  - json:\n      - {op: replace, path: /spec/template/spec/containers/9/image, value: x}\n",
        &["index 9 of a list of 2"],
    );
    refused(
        "patches:\n  - target: {kind: Deployment}\n    strategic: [1, 2]\n",
        &["`strategic` must be a mapping"],
    );
    refused(
        "patches:\n  - target: {kind: Deployment}\n    strategic: {spec: {template: {spec: {containers: [{image: x}]}}}}\n",
        &["has no `name`", "merges by `name`"],
    );
    refused(
        "patches:\n  - target: {kind: Deployment}\n    strategc: {}\n",
        &["unknown patch key `strategc`"],
    );
}

#[test]
fn patches_add_up_across_layers_and_are_checked_like_any_object() {
    let p = web_project();
    write(
        p.path(),
        "values/defaults.yaml",
        "template: web\npatches:\n  - target: {kind: Service}\n    json: [{op: add, path: /metadata/annotations, value: {team: mall}}]\n",
    );
    write(
        p.path(),
        "values/services/web.dev.yaml",
        "patches:\n  - target: {kind: Deployment}\n    strategic: {spec: {replicas: 4}}\n",
    );
    let (code, out, err) = kiln_in(p.path(), &["render", "--stdout"]);
    assert_eq!(code, 0, "{err}");
    let d = docs(&out);
    assert_eq!(
        object(&d, "Service")["metadata"]["annotations"]["team"],
        "mall"
    );
    assert_eq!(object(&d, "Deployment")["spec"]["replicas"], 4);
    // `kiln values --origin` names the file and line of each patch.
    let (code, out, err) = kiln_in(p.path(), &["values", "web", "--env", "dev", "--origin"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("values/defaults.yaml:"), "{out}");
    assert!(out.contains("values/services/web.dev.yaml:"), "{out}");
    // A patched object that breaks the schema is a finding.
    write(
        p.path(),
        "values/services/web.dev.yaml",
        "patches:\n  - target: {kind: Deployment}\n    strategic: {spec: {replicas: many}}\n",
    );
    let (code, out, err) = kiln_in(p.path(), &["check"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("replicas"), "{out}");
    assert!(
        out.contains("patched by values/services/web.dev.yaml:2:"),
        "the finding names the patch: {out}"
    );
}
