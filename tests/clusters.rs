//! Several clusters: `clusters:` in kiln.yaml, environments on one or several, versions from the
//! cluster, the `values/clusters/` layer, the `<env>@<cluster>` layout, `--cluster`, and
//! collisions between environments that share a cluster.

use std::path::Path;

use crate::support::{CM, kiln_in, project, write};

/// A ConfigMap per service that shows what the environment looks like to templates.
const ENV_CM: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ service.name }}
  namespace: {{ env.namespace }}
data:
  kubeVersion: {{ env.kubeVersion }}
  cluster: {{ env.cluster }}
  broker: {{ values.broker }}
";

/// Three clusters; dev and test share `hz-dev`, prod is on `hz-prod` and `sh-prod`.
const KILN: &str = "\
clusters:
  hz-dev: {server: \"https://10.10.0.1:6443\", kubeVersion: \"1.35\"}
  hz-prod: {server: \"https://10.20.0.1:6443\", kubeVersion: \"1.35\"}
  sh-prod: {server: \"https://10.40.0.1:6443\", kubeVersion: \"1.33\"}
environments:
  dev: {namespace: dev, cluster: hz-dev}
  test: {namespace: test, cluster: hz-dev}
  prod: {namespace: prod, clusters: [hz-prod, sh-prod]}
";

fn fleet() -> tempfile::TempDir {
    project(&[
        ("kiln.yaml", KILN),
        ("templates/web/cm.yaml.j2", ENV_CM),
        ("values/defaults.yaml", "template: web\nbroker: default\n"),
        ("values/envs/prod.yaml", "broker: prod-env\n"),
        ("values/clusters/sh-prod.yaml", "broker: sh-prod\n"),
        ("values/services/api.yaml", "{}\n"),
    ])
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The relative paths of every file under `dir`, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|p| !p.starts_with('.') && !p.contains("/."))
        .collect();
    out.sort();
    out
}

#[test]
fn an_environment_on_two_clusters_renders_once_per_cluster_with_its_version_and_values() {
    let p = fleet();
    let (code, _, err) = kiln_in(p.path(), &["render"]);
    assert_eq!(code, 0, "{err}");
    let out = p.path().join("out");
    assert_eq!(
        files(&out)
            .into_iter()
            .filter(|f| f.ends_with("api.yaml"))
            .collect::<Vec<_>>(),
        [
            "dev/api.yaml",
            "prod@hz-prod/api.yaml",
            "prod@sh-prod/api.yaml",
            "test/api.yaml"
        ],
        "one-cluster environments keep out/<env>/"
    );
    let hz = read(&out, "prod@hz-prod/api.yaml");
    let sh = read(&out, "prod@sh-prod/api.yaml");
    assert!(
        hz.contains("kubeVersion: \"1.35\"") && hz.contains("cluster: hz-prod"),
        "{hz}"
    );
    assert!(
        sh.contains("kubeVersion: \"1.33\"") && sh.contains("cluster: sh-prod"),
        "{sh}"
    );
    // The cluster layer is above values/envs/: only sh-prod's copy has its broker.
    assert!(hz.contains("broker: prod-env"), "{hz}");
    assert!(sh.contains("broker: sh-prod"), "{sh}");
    let dev = read(&out, "dev/api.yaml");
    assert!(
        dev.contains("broker: default") && dev.contains("cluster: hz-dev"),
        "{dev}"
    );

    // `--stdout` names the folder in each source line.
    let (code, stream, err) = kiln_in(p.path(), &["render", "--stdout", "--env", "prod"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        stream.contains("(prod@hz-prod/api)") && stream.contains("(prod@sh-prod/api)"),
        "{stream}"
    );
}

#[test]
fn the_cluster_filter_selects_like_the_environment_filter() {
    let p = fleet();
    let stream = |args: &[&str]| -> String {
        let (code, out, err) = kiln_in(p.path(), &[&["render", "--stdout"], args].concat());
        assert_eq!(code, 0, "{args:?}: {err}");
        let mut sources: Vec<String> = out
            .lines()
            .filter_map(|l| l.strip_prefix("# Source: web/cm.yaml.j2 ("))
            .map(|l| l.trim_end_matches(')').to_string())
            .collect();
        sources.sort();
        sources.join(" ")
    };
    assert_eq!(stream(&["--cluster", "hz-dev"]), "dev/api test/api");
    assert_eq!(stream(&["--cluster", "sh-prod"]), "prod@sh-prod/api");
    assert_eq!(
        stream(&["--cluster", "sh-prod", "--cluster", "hz-dev"]),
        "dev/api prod@sh-prod/api test/api"
    );
    assert_eq!(
        stream(&["--env", "prod", "--cluster", "hz-prod"]),
        "prod@hz-prod/api"
    );

    let (code, out, err) = kiln_in(p.path(), &["render", "--stdout", "--cluster", "sh-prd"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("unknown cluster `sh-prd`") && err.contains("did you mean `sh-prod`?"),
        "{err}"
    );
    let (code, _, err) = kiln_in(
        p.path(),
        &["render", "--stdout", "--env", "dev", "--cluster", "sh-prod"],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("no environment is on cluster `sh-prod`"),
        "{err}"
    );

    // `--env prod --cluster sh-prod` replaces only that folder.
    let (code, _, err) = kiln_in(p.path(), &["render"]);
    assert_eq!(code, 0, "{err}");
    write(p.path(), "values/envs/prod.yaml", "broker: changed\n");
    let (code, _, err) = kiln_in(
        p.path(),
        &["render", "--env", "prod", "--cluster", "hz-prod"],
    );
    assert_eq!(code, 0, "{err}");
    let out = p.path().join("out");
    assert!(read(&out, "prod@hz-prod/api.yaml").contains("broker: changed"));
    assert!(read(&out, "prod@sh-prod/api.yaml").contains("broker: sh-prod"));
}

#[test]
fn check_golden_and_diff_work_per_cluster() {
    let p = fleet();
    let (code, out, err) = kiln_in(p.path(), &["golden", "update"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(p.path().join("golden/prod@sh-prod/api.yaml").is_file());
    let (code, out, err) = kiln_in(p.path(), &["check"]);
    assert_eq!(code, 0, "{out}{err}");
    // A change in one cluster's layer drifts that cluster's folder only.
    write(p.path(), "values/clusters/sh-prod.yaml", "broker: moved\n");
    let (code, out, _) = kiln_in(p.path(), &["diff", "--summary"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("prod@sh-prod: 1 changed"), "{out}");
    assert!(out.contains("prod@hz-prod: 0 changed"), "{out}");
    let (code, out, _) = kiln_in(p.path(), &["diff", "--summary", "--cluster", "hz-prod"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("sh-prod"), "{out}");
    let (code, out, _) = kiln_in(p.path(), &["check", "--cluster", "sh-prod"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("golden/prod@sh-prod: error[golden-drift]"),
        "{out}"
    );
}

#[test]
fn check_validates_each_cluster_against_its_own_version() {
    // resource.k8s.io/v1 is served from 1.34: fine on hz-prod (1.35), not on sh-prod (1.33).
    let p = fleet();
    write(
        p.path(),
        "templates/web/deviceclass.yaml.j2",
        "apiVersion: resource.k8s.io/v1\nkind: DeviceClass\nmetadata:\n  name: {{ service.name ~ \"-\" ~ env.name }}\nspec: {}\n",
    );
    let (code, out, err) = kiln_in(p.path(), &["check", "--env", "prod"]);
    assert_eq!(code, 1, "{out}{err}");
    let findings: Vec<&str> = out.lines().filter(|l| l.contains("error[")).collect();
    assert_eq!(findings.len(), 1, "{out}");
    assert!(
        findings[0].starts_with("out/prod@sh-prod/api.yaml:") && findings[0].contains("at 1.33"),
        "{out}"
    );
}

#[test]
fn values_shows_the_cluster_layer_in_origin_and_asks_which_cluster() {
    let p = fleet();
    write(
        p.path(),
        "values/clusters/sh-prod.yaml",
        "broker: sh-prod\nzone: sh\n",
    );
    write(p.path(), "values/services/api.yaml", "zone: from-service\n");
    let (code, out, err) = kiln_in(
        p.path(),
        &[
            "values",
            "api",
            "--env",
            "prod",
            "--cluster",
            "sh-prod",
            "--origin",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("broker: sh-prod # values/clusters/sh-prod.yaml:1:9"),
        "{out}"
    );
    // values/services/ is above values/clusters/.
    assert!(
        out.contains("zone: from-service # values/services/api.yaml:1:7"),
        "{out}"
    );
    let (code, out, err) = kiln_in(p.path(), &["values", "api", "--env", "prod"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("environment `prod` is on 2 clusters: hz-prod, sh-prod")
            && err.contains("--cluster hz-prod"),
        "{err}"
    );
    // A one-cluster environment needs no flag.
    let (code, _, err) = kiln_in(p.path(), &["values", "api", "--env", "dev"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_cluster_values_file_must_name_a_known_cluster() {
    let p = fleet();
    write(p.path(), "values/clusters/sh-prd.yaml", "broker: x\n");
    let (code, _, err) = kiln_in(p.path(), &["render", "--stdout"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("`values/clusters/sh-prd.yaml` names cluster `sh-prd`")
            && err.contains("did you mean `sh-prod`?"),
        "{err}"
    );
}

/// Render with this `kiln.yaml` and return (exit code, stderr).
fn with_kiln(text: &str) -> (i32, String) {
    let p = project(&[
        ("kiln.yaml", text),
        ("templates/web/cm.yaml.j2", CM),
        ("values/defaults.yaml", "template: web\ngreeting: hi\n"),
        ("values/services/api.yaml", "{}\n"),
    ]);
    let (code, _, err) = kiln_in(p.path(), &["render", "--stdout"]);
    (code, err)
}

#[test]
fn bad_cluster_settings_are_located_errors() {
    // An unknown cluster, once `clusters:` exists: at its line, with a suggestion.
    let (code, err) = with_kiln(
        "clusters:\n  hz-prod: {server: \"https://h:6443\", kubeVersion: \"1.35\"}\nenvironments:\n  prod: {namespace: prod, cluster: hz-prd}\n",
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("environment `prod` names cluster `hz-prd`, which `clusters:` in kiln.yaml does not declare")
            && err.contains("kiln.yaml:4:")
            && err.contains("did you mean `hz-prod`?"),
        "{err}"
    );
    // The same in a list, pointing at the item.
    let (code, err) = with_kiln(
        "clusters:\n  a: {server: \"https://a:6443\", kubeVersion: \"1.35\"}\nenvironments:\n  prod:\n    namespace: prod\n    clusters:\n    - a\n    - b\n",
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("names cluster `b`") && err.contains("kiln.yaml:8:7"),
        "{err}"
    );
    // Without `clusters:` the name is a free label, as before.
    let (code, err) = with_kiln(
        "environments:\n  prod: {namespace: prod, kubeVersion: \"1.35\", cluster: anything}\n",
    );
    assert_eq!(code, 0, "{err}");
    // No version anywhere.
    let (code, err) = with_kiln(
        "clusters:\n  a: {server: \"https://a:6443\"}\nenvironments:\n  prod: {namespace: prod, cluster: a}\n",
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("environment `prod` has no `kubeVersion`, and no cluster of it gives one")
            && err.contains("give cluster `a` one"),
        "{err}"
    );
    // Two versions that disagree.
    let (code, err) = with_kiln(
        "clusters:\n  a: {server: \"https://a:6443\", kubeVersion: \"1.35\"}\nenvironments:\n  prod: {namespace: prod, cluster: a, kubeVersion: \"1.34\"}\n",
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("environment `prod` says kubeVersion 1.34, but its cluster `a` runs 1.35"),
        "{err}"
    );
    // `cluster` and `clusters` together; a repeated cluster; a bad server, CA and version.
    let cases = [
        (
            "environments:\n  prod: {namespace: prod, kubeVersion: \"1.35\", cluster: a, clusters: [b]}\n",
            "has both `cluster` and `clusters`",
        ),
        (
            "environments:\n  prod: {namespace: prod, kubeVersion: \"1.35\", clusters: [a, a]}\n",
            "lists cluster `a` twice",
        ),
        (
            "clusters:\n  a: {server: \"10.0.0.1:6443\"}\nenvironments:\n  prod: {namespace: prod, kubeVersion: \"1.35\", cluster: a}\n",
            "cluster `a`: `server` is not an API server URL",
        ),
        (
            "clusters:\n  a: {server: \"https://a\", caData: \"bm90IGEgY2VydA==\"}\nenvironments:\n  prod: {namespace: prod, kubeVersion: \"1.35\", cluster: a}\n",
            "cluster `a`: `caData` is not base64 of a PEM certificate",
        ),
        (
            "clusters:\n  a: {server: \"https://a\", caData: x, caFile: ca.crt}\nenvironments:\n  prod: {namespace: prod, kubeVersion: \"1.35\", cluster: a}\n",
            "cluster `a` has both `caFile` and `caData`",
        ),
        (
            "clusters:\n  a: {server: \"https://a\", kubeVersion: 1.30}\nenvironments:\n  prod: {namespace: prod, cluster: a}\n",
            "cluster `a`: `kubeVersion` is not a version",
        ),
        (
            "clusters:\n  A_b: {server: \"https://a\"}\nenvironments:\n  prod: {namespace: prod, kubeVersion: \"1.35\"}\n",
            "cluster name `A_b`",
        ),
        (
            "clusters:\n  a: {server: \"https://a\", token: x}\nenvironments:\n  prod: {namespace: prod, kubeVersion: \"1.35\"}\n",
            "unknown field `token`",
        ),
    ];
    for (text, want) in cases {
        let (code, err) = with_kiln(text);
        assert_eq!(code, 1, "{text}: {err}");
        assert!(err.contains(want), "{text}: want `{want}` in:\n{err}");
        assert!(err.contains("kiln.yaml:"), "not located: {err}");
    }
}

/// A project whose dev and test share `c1` and whose `_env` renders `extra`.
fn sharing(extra: &str, values: &str) -> tempfile::TempDir {
    project(&[
        (
            "kiln.yaml",
            "clusters:\n  c1: {server: \"https://c1:6443\", kubeVersion: \"1.35\"}\n  c2: {server: \"https://c2:6443\", kubeVersion: \"1.35\"}\nenvironments:\n  dev: {namespace: dev, cluster: c1}\n  test: {namespace: test, cluster: c1}\n",
        ),
        ("templates/web/cm.yaml.j2", CM),
        ("templates/_env/extra.yaml.j2", extra),
        (
            "values/defaults.yaml",
            &format!("template: web\ngreeting: hi\n{values}"),
        ),
        ("values/services/api.yaml", "{}\n"),
    ])
}

/// Render and check: both must stop with exit 1; returns render's stderr.
fn collides(p: &Path) -> String {
    let (code, out, err) = kiln_in(p, &["render", "--stdout"]);
    assert_eq!(code, 1, "render: {out}{err}");
    assert!(out.is_empty());
    let (code, _, check_err) = kiln_in(p, &["check"]);
    assert_eq!(code, 1, "check: {check_err}");
    assert_eq!(check_err, err, "check reports what render does");
    err
}

/// Move test to cluster c2: the same objects no longer collide.
fn apart(p: &Path) {
    let kiln = std::fs::read_to_string(p.join("kiln.yaml")).unwrap();
    write(
        p,
        "kiln.yaml",
        kiln.replace(
            "test: {namespace: test, cluster: c1}",
            "test: {namespace: test, cluster: c2}",
        ),
    );
    let (code, _, err) = kiln_in(p, &["render", "--stdout"]);
    assert_eq!(code, 0, "on two clusters: {err}");
}

#[test]
fn a_cluster_scoped_object_from_two_environments_on_one_cluster_is_an_error() {
    let p = sharing(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: log-reader\nrules: []\n",
        "",
    );
    let err = collides(p.path());
    assert!(
        err.contains("error: `ClusterRole log-reader (cluster-scoped)` is written by two environments on cluster `c1`")
            && err.contains("by environment `dev`: `templates/_env/extra.yaml.j2`")
            && err.contains("and by environment `test`: `templates/_env/extra.yaml.j2`"),
        "{err}"
    );
    assert_eq!(err.matches("error:").count(), 1, "reported once: {err}");
    apart(p.path());
}

#[test]
fn an_object_in_a_namespace_both_environments_use_is_an_error() {
    // The built-in ingress-nginx ConfigMaps, put into the controller's own namespace.
    let p = sharing(
        "{# nothing else #}\n",
        "ingressNginx:\n  namespace: ingress-nginx\n  tcp: [{port: 53, service: kube-system/kube-dns, targetPort: 53}]\n",
    );
    let err = collides(p.path());
    assert!(
        err.contains(
            "`ConfigMap ingress-nginx/tcp-services` is written by two environments on cluster `c1`"
        ) && err.contains("by environment `dev`: `built-in _env/ingress-nginx-ports.yaml.j2`")
            && err
                .contains("and by environment `test`: `built-in _env/ingress-nginx-ports.yaml.j2`"),
        "{err}"
    );
    apart(p.path());
    // Each environment's own namespace (the default) is no clash.
    let p = sharing(
        "{# nothing else #}\n",
        "ingressNginx:\n  tcp: [{port: 53, service: kube-system/kube-dns, targetPort: 53}]\n",
    );
    let (code, _, err) = kiln_in(p.path(), &["render", "--stdout"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_node_port_two_environments_take_on_one_cluster_is_an_error() {
    let p = sharing(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: callback\n  namespace: {{ env.namespace }}\nspec:\n  type: NodePort\n  selector: {app: callback}\n  ports: [{port: 80, nodePort: 30084}]\n",
        "",
    );
    let err = collides(p.path());
    assert!(
        err.contains("error: port 30084/TCP is claimed by two environments on cluster `c1`")
            && err.contains("by environment `dev`: nodePort of Service dev/callback (`templates/_env/extra.yaml.j2`)")
            && err.contains("and by environment `test`: nodePort of Service test/callback (`templates/_env/extra.yaml.j2`)"),
        "{err}"
    );
    apart(p.path());
}

#[test]
fn ports_a_host_network_ingress_nginx_reads_from_its_configmaps_are_claims() {
    // Each environment runs its own hostNetwork controller reading its own udp-services: both
    // bind 53/UDP on the nodes.
    let controller = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: dns-proxy
  namespace: {{ env.namespace }}
spec:
  selector: {matchLabels: {app: dns-proxy}}
  template:
    metadata: {labels: {app: dns-proxy}}
    spec:
      hostNetwork: true
      containers:
      - name: controller
        image: registry.k8s.io/ingress-nginx/controller:v1.12.1
        args: [/nginx-ingress-controller, --udp-services-configmap=$(POD_NAMESPACE)/udp-services]
";
    let p = sharing(
        controller,
        "ingressNginx:\n  udp: [{port: 53, service: kube-system/kube-dns, targetPort: 53}]\n",
    );
    let err = collides(p.path());
    assert!(
        err.contains("error: port 53/UDP is claimed by two environments on cluster `c1`")
            && err.contains("by environment `dev`: port in ConfigMap dev/udp-services read by hostNetwork Deployment dev/dns-proxy (`built-in _env/ingress-nginx-ports.yaml.j2`)")
            && err.contains("and by environment `test`: port in ConfigMap test/udp-services read by hostNetwork Deployment test/dns-proxy"),
        "{err}"
    );
    apart(p.path());
}

#[test]
fn a_diff_against_a_revision_with_a_collision_shows_the_fix() {
    let Some(git) = crate::support::tool("git") else {
        return;
    };
    let p = sharing(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: log-reader\nrules: []\n",
        "",
    );
    let d = p.path();
    let git = |args: &[&str]| {
        let o = std::process::Command::new(&git)
            .arg("-C")
            .arg(d)
            .args(["-c", "user.name=t", "-c", "user.email=t@e"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "."]);
    git(&[
        "commit",
        "-q",
        "-m",
        "both environments write the ClusterRole",
    ]);
    // The fix: test moves to its own cluster. The old side is read, not judged.
    apart(d);
    let (code, out, err) = kiln_in(d, &["diff", "--against", "git:HEAD", "--summary"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("no differences") || out.contains("0 changed"),
        "{out}"
    );
    assert!(err.is_empty(), "{err}");
}
