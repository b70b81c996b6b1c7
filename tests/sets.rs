//! The `stateful` and `external` sets and the ingress-nginx DNS proxy controller of `_env`: every
//! object kind they render is valid at the oldest and newest embedded Kubernetes versions, the
//! ones `kubectl create --dry-run=client` can make agree with kubectl, and their values behave
//! as documented. The port-claim errors are in `platform.rs`.

use std::path::Path;

use kiln::yaml::{Dialect, Node, parse_stream};
use serde_json::Value as Json;

use crate::support::{Kiln, kiln_in, repo_copy, tool, write};

/// The example fleet rendered into `<tmp>/out`.
fn render_fleet() -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (code, _, err) = Kiln::new(&["render", "--out", out.to_str().unwrap()])
        .project(root)
        .run();
    assert_eq!(code, 0, "{err}");
    tmp
}

fn docs(dir: &Path, file: &str) -> Vec<Node> {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    parse_stream(&text, 0, Dialect::Kube).unwrap()
}

fn json(node: &Node) -> Json {
    serde_json::to_value(node).unwrap()
}

/// The object of `kind` named `name` in `docs`, as JSON.
fn find(docs: &[Node], kind: &str, name: &str) -> Json {
    docs.iter()
        .map(json)
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// The example fleet's values and `kiln.yaml`, to change.
fn fleet_copy() -> tempfile::TempDir {
    repo_copy(&["kiln.yaml", "values"])
}

fn stdout_docs(text: &str) -> Vec<Json> {
    parse_stream(text, 0, Dialect::Kube)
        .unwrap()
        .iter()
        .map(json)
        .collect()
}

#[test]
fn every_new_kind_is_valid_at_1_33_and_1_37() {
    let tmp = render_fleet();
    let out = tmp.path().join("out");
    let dev = docs(&out, "dev/_env.yaml");
    let prod: Vec<Node> = [
        "prod@aliyun-hz-prod/redis.yaml",
        "prod@aliyun-hz-prod/order-db.yaml",
        "dev/order-db.yaml",
    ]
    .iter()
    .flat_map(|f| docs(&out, f))
    .collect();
    let kinds: std::collections::BTreeSet<String> = dev
        .iter()
        .chain(&prod)
        .filter_map(|d| d.get_str("kind").map(str::to_string))
        .collect();
    for kind in [
        "StatefulSet",
        "Service",
        "PodDisruptionBudget",
        "ConfigMap",
        "EndpointSlice",
        "Deployment",
        "ServiceAccount",
        "Role",
        "ClusterRole",
        "RoleBinding",
        "ClusterRoleBinding",
        "Namespace",
    ] {
        assert!(
            kinds.contains(kind),
            "the fleet renders no {kind}: {kinds:?}"
        );
    }
    for version in ["1.33", "1.37"] {
        // Each render target on its own, as it is applied: prod's two clusters each get the
        // environment's objects once.
        let (code, stdout, err) = Kiln::new(&[
            "lint",
            "--kube-version",
            version,
            "--format",
            "json",
            out.join("dev").to_str().unwrap(),
            out.join("test").to_str().unwrap(),
            out.join("stage").to_str().unwrap(),
            out.join("prod@aliyun-hz-prod").to_str().unwrap(),
        ])
        .run();
        assert_eq!(code, 0, "{stdout}{err}");
        // Outside a project, `kiln lint` does not know the controller is kiln's own: its
        // hostNetwork is the one finding, a warning.
        let findings: Vec<Json> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(findings.len(), 1, "{stdout}");
        assert_eq!(findings[0]["rule"], "host-network", "{stdout}");
        assert_eq!(
            findings[0]["resource"], "apps/v1 Deployment ingress-nginx/ingress-nginx-controller",
            "{stdout}"
        );
    }
}

/// `kiln check` allows the controller's hostNetwork by its identity (the Deployment kiln renders
/// from `ingressNginx.controller`), not by its name: another object with the same name, in the
/// service namespace, is still reported.
#[test]
fn host_network_is_allowed_for_the_controller_by_identity() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (code, out, err) = kiln_in(root, &["check", "--fail-on", "warning"]);
    assert_eq!(code, 0, "{out}{err}");

    let p = fleet_copy();
    let d = p.path();
    write(
        d,
        "values/services/ingress-nginx-controller.yaml",
        "image: {repository: registry.example.com/x, tag: \"1\"}\n\
         patches:\n  - target: {kind: Deployment}\n    strategic: {spec: {template: {spec: {hostNetwork: true}}}}\n",
    );
    let (code, out, err) = kiln_in(d, &["check", "--env", "dev", "--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let flagged: Vec<Json> = out
        .lines()
        .map(|l| serde_json::from_str::<Json>(l).unwrap())
        .filter(|f| f["rule"] == "host-network")
        .collect();
    assert_eq!(flagged.len(), 1, "{out}");
    assert_eq!(
        flagged[0]["resource"], "apps/v1 Deployment dev/ingress-nginx-controller",
        "{out}"
    );
}

/// Whether every field kubectl set is in kiln's object with the same value, apart from `skip`
/// (paths such as `spec.ports[].name`). Lists are compared item by item.
fn agrees(kubectl: &Json, kiln: &Json, path: &str, skip: &[&str], problems: &mut Vec<String>) {
    if skip.contains(&path) {
        return;
    }
    match (kubectl, kiln) {
        (Json::Object(k), Json::Object(o)) => {
            for (key, value) in k {
                let sub = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match o.get(key) {
                    Some(ours) => agrees(value, ours, &sub, skip, problems),
                    None if skip.contains(&sub.as_str()) => {}
                    None => problems.push(format!("{sub}: kubectl sets {value}, kiln has none")),
                }
            }
        }
        (Json::Array(k), Json::Array(o)) if k.len() == o.len() => {
            for (a, b) in k.iter().zip(o) {
                agrees(a, b, &format!("{path}[]"), skip, problems);
            }
        }
        (a, b) if a == b => {}
        (a, b) => problems.push(format!("{path}: kubectl {a}, kiln {b}")),
    }
}

fn kubectl_yaml(kubectl: &Path, args: &[&str]) -> Json {
    let out = std::process::Command::new(kubectl)
        .args(args)
        .args(["--dry-run=client", "-o", "yaml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout_docs(&String::from_utf8(out.stdout).unwrap()).remove(0)
}

#[test]
fn services_service_accounts_and_bindings_agree_with_kubectl_create() {
    let Some(kubectl) = tool("kubectl") else {
        return;
    };
    let tmp = render_fleet();
    let out = tmp.path().join("out");
    // What kubectl fills in that is not part of the object's meaning here: the creation time,
    // an empty status, its generated port names (`6379-6379`; kiln names ports after what they
    // carry); per case below: the headless Service targets the container port by its name, and
    // kubectl gives an ExternalName Service an `app` selector, which selects nothing there.
    let skip = ["metadata.creationTimestamp", "status", "spec.ports[].name"];
    let redis = docs(&out, "dev/redis.yaml");
    let cases: Vec<(Vec<&str>, Json, Vec<&str>)> = vec![
        (
            vec![
                "create",
                "service",
                "clusterip",
                "redis",
                "--clusterip=None",
                "--tcp=6379:6379",
            ],
            find(&redis, "Service", "redis"),
            vec!["spec.ports[].targetPort"],
        ),
        (
            vec![
                "create",
                "service",
                "externalname",
                "order-db",
                "--external-name=rm-bp1mall0order0dev.mysql.rds.aliyuncs.com",
                "--tcp=3306:3306",
            ],
            find(&docs(&out, "dev/order-db.yaml"), "Service", "order-db"),
            vec!["spec.selector"],
        ),
        (
            vec![
                "create",
                "serviceaccount",
                "ingress-nginx-controller",
                "--namespace=ingress-nginx",
            ],
            find(
                &docs(&out, "dev/_env.yaml"),
                "ServiceAccount",
                "ingress-nginx-controller",
            ),
            vec![],
        ),
        (
            vec![
                "create",
                "rolebinding",
                "ingress-nginx-controller",
                "--namespace=ingress-nginx",
                "--role=ingress-nginx-controller",
                "--serviceaccount=ingress-nginx:ingress-nginx-controller",
            ],
            find(
                &docs(&out, "dev/_env.yaml"),
                "RoleBinding",
                "ingress-nginx-controller",
            ),
            vec![],
        ),
        (
            vec![
                "create",
                "clusterrolebinding",
                "ingress-nginx-controller-ingress-nginx",
                "--clusterrole=ingress-nginx-controller-ingress-nginx",
                "--serviceaccount=ingress-nginx:ingress-nginx-controller",
            ],
            find(
                &docs(&out, "dev/_env.yaml"),
                "ClusterRoleBinding",
                "ingress-nginx-controller-ingress-nginx",
            ),
            vec![],
        ),
        (
            vec!["create", "namespace", "ingress-nginx"],
            find(&docs(&out, "dev/_env.yaml"), "Namespace", "ingress-nginx"),
            // kubectl writes an empty `spec: {}`.
            vec!["spec"],
        ),
    ];
    for (args, ours, extra_skip) in cases {
        let theirs = kubectl_yaml(&kubectl, &args);
        let skip: Vec<&str> = skip.iter().copied().chain(extra_skip).collect();
        let mut problems = Vec::new();
        agrees(&theirs, &ours, "", &skip, &mut problems);
        assert!(
            problems.is_empty(),
            "kubectl {}:\n{}\nkiln: {ours:#}",
            args.join(" "),
            problems.join("\n")
        );
    }
}

#[test]
fn stateful_volumes_follow_the_environment_storage_class() {
    let tmp = render_fleet();
    let out = tmp.path().join("out");
    // The cloud's disk class per cluster: prod runs on Aliyun and on Tencent Cloud, whose
    // class comes from the values/clusters/ layer.
    for (env, class) in [
        ("dev", "nfs-client"),
        ("test", "nfs-client"),
        ("stage", "alicloud-disk-essd"),
        ("prod@aliyun-hz-prod", "alicloud-disk-essd"),
        ("prod@tencent-sh-prod", "cbs"),
    ] {
        for (name, size, mount) in [
            ("redis", "20Gi", "/data"),
            (
                "mysql",
                if env.starts_with("prod") {
                    "200Gi"
                } else {
                    "50Gi"
                },
                "/var/lib/mysql",
            ),
        ] {
            let sts = find(
                &docs(&out, &format!("{env}/{name}.yaml")),
                "StatefulSet",
                name,
            );
            let claim = &sts["spec"]["volumeClaimTemplates"][0];
            assert_eq!(claim["spec"]["storageClassName"], class, "{env}/{name}");
            assert_eq!(claim["spec"]["resources"]["requests"]["storage"], size);
            assert_eq!(claim["spec"]["accessModes"][0], "ReadWriteOnce");
            assert_eq!(sts["spec"]["serviceName"], name);
            let c = &sts["spec"]["template"]["spec"]["containers"][0];
            assert_eq!(c["volumeMounts"][0]["name"], "data");
            assert_eq!(c["volumeMounts"][0]["mountPath"], mount);
            assert!(c["readinessProbe"]["exec"]["command"].is_array(), "{c:#}");
            assert!(c["livenessProbe"]["exec"]["command"].is_array(), "{c:#}");
        }
    }
    let redis = docs(&out, "prod@aliyun-hz-prod/redis.yaml");
    let sts = find(&redis, "StatefulSet", "redis");
    let c = &sts["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["env"][0]["valueFrom"]["secretKeyRef"],
        serde_json::json!({"name": "redis-auth", "key": "password"})
    );
    // The config files come from the instance's ConfigMap; a change rolls the pods.
    let cm = find(&redis, "ConfigMap", "redis-config");
    assert!(
        cm["data"]["redis.conf"]
            .as_str()
            .unwrap()
            .contains("appendonly yes")
    );
    assert_eq!(
        sts["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"],
        "redis-config"
    );
    let checksum = &sts["spec"]["template"]["metadata"]["annotations"]["checksum/config"];
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (code, text, err) = kiln_in(
        root,
        &[
            "render",
            "--env",
            "prod",
            "--service",
            "redis",
            "--stdout",
            "--set",
            "config.files.redis\\.conf=appendonly no",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let changed = stdout_docs(&text)
        .into_iter()
        .find(|d| d["kind"] == "StatefulSet")
        .unwrap();
    assert_ne!(
        &changed["spec"]["template"]["metadata"]["annotations"]["checksum/config"],
        checksum
    );
    assert_eq!(
        find(&redis, "PodDisruptionBudget", "redis")["spec"]["maxUnavailable"],
        1
    );
}

#[test]
fn stateful_values_are_checked_where_they_were_written() {
    let p = fleet_copy();
    let d = p.path();
    // A misspelled key of the set, in the service's own file.
    write(
        d,
        "values/services/redis.dev.yaml",
        "storage:\n  sise: 5Gi\n",
    );
    let (code, _, err) = kiln_in(d, &["render", "--env", "dev", "--stdout"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("values/services/redis.dev.yaml:2:3")
            && err.contains("did you mean `storage.size`?"),
        "{err}"
    );
    // No ports: an error at the values, naming what to set.
    write(d, "values/services/redis.dev.yaml", "ports: []\n");
    let (code, _, err) = kiln_in(d, &["render", "--env", "dev", "--stdout"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("set `ports`") && err.contains("values/services/redis.dev.yaml:1:8"),
        "{err}"
    );
    // The client Service, with `podManagementPolicy` and the PDB's `minAvailable`.
    write(
        d,
        "values/services/redis.dev.yaml",
        "clientService: {enabled: true}\npodManagementPolicy: Parallel\npodDisruptionBudget: {minAvailable: 1}\n",
    );
    let (code, out, err) = kiln_in(
        d,
        &["render", "--env", "dev", "--service", "redis", "--stdout"],
    );
    assert_eq!(code, 0, "{err}");
    let all = stdout_docs(&out);
    let client = all
        .iter()
        .find(|o| o["kind"] == "Service" && o["metadata"]["name"] == "redis-client")
        .expect("a client Service");
    assert_eq!(client["spec"]["type"], "ClusterIP");
    assert!(client["spec"].get("clusterIP").is_none(), "{client:#}");
    let sts = all.iter().find(|o| o["kind"] == "StatefulSet").unwrap();
    assert_eq!(sts["spec"]["podManagementPolicy"], "Parallel");
    let pdb = all
        .iter()
        .find(|o| o["kind"] == "PodDisruptionBudget")
        .unwrap();
    assert_eq!(
        pdb["spec"],
        serde_json::json!({"minAvailable": 1, "selector": {"matchLabels": {"app": "redis", "app.kubernetes.io/instance": "redis"}}})
    );
}

#[test]
fn external_services_by_address_or_hostname() {
    let tmp = render_fleet();
    let out = tmp.path().join("out");
    // prod: a Service without selector and an EndpointSlice the Service picks up by label.
    let prod = docs(&out, "prod@aliyun-hz-prod/order-db.yaml");
    let svc = find(&prod, "Service", "order-db");
    assert!(svc["spec"].get("selector").is_none(), "{svc:#}");
    assert_eq!(svc["spec"]["ports"][0]["name"], "mysql");
    let slice = find(&prod, "EndpointSlice", "order-db-ipv4");
    assert_eq!(slice["apiVersion"], "discovery.k8s.io/v1");
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(
        slice["metadata"]["labels"]["kubernetes.io/service-name"],
        "order-db"
    );
    assert_eq!(slice["ports"][0]["name"], svc["spec"]["ports"][0]["name"]);
    assert_eq!(slice["ports"][0]["port"], 3306);
    let addresses: Vec<&Json> = slice["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["addresses"][0])
        .collect();
    assert_eq!(addresses, ["10.30.3.15", "10.30.3.16"]);
    // dev: an ExternalName Service.
    let dev = find(&docs(&out, "dev/order-db.yaml"), "Service", "order-db");
    assert_eq!(dev["spec"]["type"], "ExternalName");
    assert_eq!(
        dev["spec"]["externalName"],
        "rm-bp1mall0order0dev.mysql.rds.aliyuncs.com"
    );

    let p = fleet_copy();
    let d = p.path();
    // Both addresses and a hostname: an error at the hostname's line.
    write(
        d,
        "values/services/order-db.dev.yaml",
        "external:\n  addresses: [10.0.3.15]\n",
    );
    let (code, _, err) = kiln_in(d, &["render", "--env", "dev", "--stdout"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("set only one of `external.addresses` and `external.hostname`")
            && err.contains("values/services/order-db.yaml:"),
        "{err}"
    );
    // IPv6 and IPv4 addresses: one EndpointSlice per address family.
    write(
        d,
        "values/services/order-db.dev.yaml",
        "external:\n  hostname: \"\"\n  addresses: [10.0.3.15, \"fd00::15\"]\n",
    );
    let (code, out, err) = kiln_in(
        d,
        &[
            "render",
            "--env",
            "dev",
            "--service",
            "order-db",
            "--stdout",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let all = stdout_docs(&out);
    let slices: Vec<(&Json, &Json)> = all
        .iter()
        .filter(|o| o["kind"] == "EndpointSlice")
        .map(|o| (&o["addressType"], &o["endpoints"][0]["addresses"][0]))
        .collect();
    assert_eq!(
        slices,
        [
            (&Json::from("IPv4"), &Json::from("10.0.3.15")),
            (&Json::from("IPv6"), &Json::from("fd00::15"))
        ]
    );
    // Not an address: refused by the set's values schema, at its line.
    write(
        d,
        "values/services/order-db.dev.yaml",
        "external:\n  hostname: \"\"\n  addresses: [db.internal]\n",
    );
    let (code, _, err) = kiln_in(d, &["render", "--env", "dev", "--stdout"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("values/services/order-db.dev.yaml:3:"),
        "{err}"
    );
}

#[test]
fn the_dns_proxy_controller_serves_its_own_namespace_configmaps() {
    let tmp = render_fleet();
    let out = tmp.path().join("out");
    let env = docs(&out, "dev/_env.yaml");
    let deploy = find(&env, "Deployment", "ingress-nginx-controller");
    assert_eq!(deploy["metadata"]["namespace"], "ingress-nginx");
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    assert_eq!(pod["dnsPolicy"], "ClusterFirstWithHostNet");
    assert_eq!(pod["serviceAccountName"], "ingress-nginx-controller");
    assert_eq!(
        pod["nodeSelector"]["node-role.mall.example.com/dns"],
        "true"
    );
    assert_eq!(pod["tolerations"][0]["value"], "dns");
    let c = &pod["containers"][0];
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(args.iter().all(|a| a.is_ascii()), "{args:?}");
    assert!(args.contains(&"--tcp-services-configmap=$(POD_NAMESPACE)/tcp-services"));
    assert!(args.contains(&"--udp-services-configmap=$(POD_NAMESPACE)/udp-services"));
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(c[probe]["httpGet"]["port"], 10254);
        assert_eq!(c[probe]["httpGet"]["path"], "/healthz");
    }
    // The ConfigMaps are where `$(POD_NAMESPACE)` points, and the DNS is proxied on 53.
    for protocol in ["tcp", "udp"] {
        let cm = find(&env, "ConfigMap", &format!("{protocol}-services"));
        assert_eq!(cm["metadata"]["namespace"], "ingress-nginx");
        assert_eq!(cm["data"]["53"], "kube-system/kube-dns:53");
        let port = c["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == format!("{protocol}-53"))
            .unwrap_or_else(|| panic!("no {protocol}-53 port"));
        assert_eq!(port["protocol"], protocol.to_uppercase());
    }
    // The Role lets it read its ConfigMaps and hold the leader-election Lease.
    let role = find(&env, "Role", "ingress-nginx-controller");
    let rules = role["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| {
        r["resources"]
            .as_array()
            .unwrap()
            .contains(&Json::from("configmaps"))
    }));
    assert!(
        rules
            .iter()
            .any(|r| r["apiGroups"][0] == "coordination.k8s.io"
                && r["resourceNames"][0] == "ingress-nginx-leader")
    );
    // No controller in the other environments.
    let test = docs(&out, "test/_env.yaml");
    assert!(!test.iter().any(|d| d.get_str("kind") == Some("Deployment")));

    // Two different namespaces for the ConfigMaps and the controller: an error naming both.
    let p = fleet_copy();
    let d = p.path();
    let dev = std::fs::read_to_string(d.join("values/envs/dev.yaml")).unwrap();
    write(
        d,
        "values/envs/dev.yaml",
        dev.replace("ingressNginx:\n", "ingressNginx:\n  namespace: dev\n"),
    );
    let (code, _, err) = kiln_in(d, &["render", "--env", "dev", "--stdout"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("`ingressNginx.namespace` and `ingressNginx.controller.namespace` differ")
            && err.contains("values/envs/dev.yaml:")
            && err.contains("the controller's namespace is set at values/envs/dev.yaml:"),
        "{err}"
    );
}
