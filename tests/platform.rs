//! The built-in template library does what the platform needs: Eureka peer sets, Eureka
//! clients, filebeat sidecars, `NodeSelector` variants, per-team RBAC and ingress-nginx ports.
//! Each test renders the bundled example fleet (or a small project) and inspects the objects.

use std::path::Path;

use kiln::yaml::{Dialect, Node, Value, parse_stream};

use crate::support::{Kiln, kiln_in, repo_copy};

/// The bundled example fleet rendered into a temporary `out/`, with `extra` flags.
fn render_fleet(extra: &[&str]) -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut args = vec!["render", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (code, _, err) = Kiln::new(&args).project(root).run();
    assert_eq!(code, 0, "{err}");
    tmp
}

fn docs(dir: &Path, file: &str) -> Vec<Node> {
    let text = std::fs::read_to_string(dir.join("out").join(file)).unwrap_or_default();
    parse_stream(&text, 0, Dialect::Kube).unwrap()
}

fn str_at<'a>(node: &'a Node, path: &[&str]) -> Option<&'a str> {
    let mut n = node;
    for p in path {
        n = n.get(p)?;
    }
    match &n.value {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

fn seq<'a>(node: &'a Node, path: &[&str]) -> &'a [Node] {
    let mut n = node;
    for p in path {
        match n.get(p) {
            Some(x) => n = x,
            None => return &[],
        }
    }
    match &n.value {
        Value::Seq(items) => items,
        _ => &[],
    }
}

fn of_kind<'a>(docs: &'a [Node], kind: &str) -> Vec<&'a Node> {
    docs.iter()
        .filter(|d| d.get_str("kind") == Some(kind))
        .collect()
}

fn containers(workload: &Node) -> &[Node] {
    seq(workload, &["spec", "template", "spec", "containers"])
}

fn env_value(container: &Node, name: &str) -> Option<String> {
    seq(container, &["env"])
        .iter()
        .find(|e| e.get_str("name") == Some(name))
        .and_then(|e| e.get_str("value").map(str::to_string))
}

fn env_field_ref(container: &Node, name: &str) -> Option<String> {
    seq(container, &["env"])
        .iter()
        .find(|e| e.get_str("name") == Some(name))
        .and_then(|e| str_at(e, &["valueFrom", "fieldRef", "fieldPath"]).map(str::to_string))
}

#[test]
fn deployment_shape_eureka_members_list_exactly_the_others() {
    let out = render_fleet(&["--env", "dev"]);
    let d = docs(out.path(), "dev/eureka.yaml");
    let deployments = of_kind(&d, "Deployment");
    assert_eq!(deployments.len(), 2, "dev runs 2 hand-made members");
    let hosts: Vec<String> = deployments
        .iter()
        .map(|w| env_value(&containers(w)[0], "EUREKA_INSTANCE_HOSTNAME").unwrap())
        .collect();
    for (w, own) in deployments.iter().zip(&hosts) {
        let zone = env_value(&containers(w)[0], "EUREKA_CLIENT_SERVICEURL_DEFAULTZONE").unwrap();
        assert!(!zone.contains(own.as_str()), "{own} lists itself: {zone}");
        for other in hosts.iter().filter(|h| *h != own) {
            assert!(zone.contains(other.as_str()), "{own} misses {other}");
        }
    }
    assert_eq!(of_kind(&d, "Service").len(), 2, "one Service per member");
}

#[test]
fn statefulset_shape_members_know_their_own_hostname_and_list_all() {
    let out = render_fleet(&["--env", "prod"]);
    let d = docs(out.path(), "prod@aliyun-hz-prod/eureka.yaml");
    let sts = of_kind(&d, "StatefulSet");
    assert_eq!(sts.len(), 1);
    let c = &containers(sts[0])[0];
    assert_eq!(
        env_field_ref(c, "POD_NAME").as_deref(),
        Some("metadata.name")
    );
    assert_eq!(
        env_value(c, "EUREKA_INSTANCE_HOSTNAME").as_deref(),
        Some("$(POD_NAME).eureka.prod.svc.cluster.local")
    );
    let zone = env_value(c, "EUREKA_CLIENT_SERVICEURL_DEFAULTZONE").unwrap();
    for i in 0..3 {
        assert!(
            zone.contains(&format!(
                "http://eureka-{i}.eureka.prod.svc.cluster.local:8761/eureka/"
            )),
            "{zone}"
        );
    }
    let headless = of_kind(&d, "Service");
    assert_eq!(str_at(headless[0], &["spec", "clusterIP"]), Some("None"));
    assert_eq!(
        str_at(sts[0], &["spec", "serviceName"]),
        str_at(headless[0], &["metadata", "name"])
    );
}

#[test]
fn every_client_lists_all_members_and_registers_by_pod_ip() {
    let out = render_fleet(&[]);
    for (env, members) in [
        ("dev", 2),
        ("test", 3),
        ("stage", 3),
        ("prod@aliyun-hz-prod", 3),
        ("prod@tencent-sh-prod", 3),
    ] {
        for svc in [
            "gateway",
            "user-service",
            "order-service",
            "payment-service",
            "wechat-callback",
        ] {
            let d = docs(out.path(), &format!("{env}/{svc}.yaml"));
            let deploy = of_kind(&d, "Deployment")[0];
            let app = &containers(deploy)[0];
            let zone = env_value(app, "EUREKA_CLIENT_SERVICEURL_DEFAULTZONE").unwrap();
            assert_eq!(zone.split(',').count(), members, "{env}/{svc}: {zone}");
            assert_eq!(
                env_value(app, "EUREKA_INSTANCE_PREFER_IP_ADDRESS").as_deref(),
                Some("true")
            );
            assert_eq!(
                env_value(app, "EUREKA_INSTANCE_IP_ADDRESS").as_deref(),
                Some("$(POD_IP)")
            );
            assert_eq!(
                env_field_ref(app, "POD_IP").as_deref(),
                Some("status.podIP")
            );
            assert_eq!(
                env_value(app, "SPRING_APPLICATION_NAME").as_deref(),
                Some(svc),
                "registered under the bare service name"
            );
        }
    }
}

#[test]
fn filebeat_sidecar_tags_events_from_the_downward_api() {
    let out = render_fleet(&["--env", "prod"]);
    let d = docs(out.path(), "prod@aliyun-hz-prod/order-service.yaml");
    let deploy = of_kind(&d, "Deployment")[0];
    let cs = containers(deploy);
    let fb = cs
        .iter()
        .find(|c| c.get_str("name") == Some("filebeat"))
        .expect("filebeat sidecar");
    assert_eq!(env_field_ref(fb, "POD_IP").as_deref(), Some("status.podIP"));
    assert_eq!(
        env_field_ref(fb, "POD_NAMESPACE").as_deref(),
        Some("metadata.namespace")
    );
    let cm = of_kind(&d, "ConfigMap")
        .into_iter()
        .find(|c| str_at(c, &["metadata", "name"]) == Some("order-service-filebeat"))
        .unwrap();
    let config = kiln::yaml::parse(
        str_at(cm, &["data", "filebeat.yml"]).unwrap(),
        0,
        Dialect::Kube,
    )
    .unwrap();
    let input = &seq(&config, &["filebeat.inputs"])[0];
    assert_eq!(
        str_at(input, &["fields", "namespace"]),
        Some("${POD_NAMESPACE}")
    );
    assert_eq!(str_at(input, &["fields", "pod_ip"]), Some("${POD_IP}"));
    assert_eq!(str_at(input, &["fields", "service"]), Some("order-service"));
    assert_eq!(
        str_at(&config, &["output.kafka", "topic"]),
        Some("k8s-app-logs-prod")
    );
    assert_eq!(seq(&config, &["output.kafka", "hosts"]).len(), 3);
    // The log volume is shared, and a config change rolls the pods.
    let mounts = |c: &Node| {
        seq(c, &["volumeMounts"])
            .iter()
            .filter_map(|m| m.get_str("name").map(str::to_string))
            .collect::<Vec<_>>()
    };
    assert!(
        mounts(&cs[0]).contains(&"app-logs".to_string())
            && mounts(fb).contains(&"app-logs".to_string())
    );
    let checksum = str_at(
        deploy,
        &[
            "spec",
            "template",
            "metadata",
            "annotations",
            "checksum/filebeat-config",
        ],
    )
    .unwrap()
    .to_string();
    let changed = render_fleet(&[
        "--env",
        "prod",
        "--set",
        "logging.filebeat.kafka.topic=other",
    ]);
    let d2 = docs(changed.path(), "prod@aliyun-hz-prod/order-service.yaml");
    let checksum2 = str_at(
        of_kind(&d2, "Deployment")[0],
        &[
            "spec",
            "template",
            "metadata",
            "annotations",
            "checksum/filebeat-config",
        ],
    )
    .unwrap()
    .to_string();
    assert_ne!(checksum, checksum2);
}

fn labels(node: Option<&Node>) -> Vec<(String, String)> {
    match node.map(|n| &n.value) {
        Some(Value::Map(m)) => m
            .iter()
            .filter_map(|(k, v)| match &v.value {
                Value::Str(s) => Some((k.clone(), s.clone())),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn selects(selector: &[(String, String)], pod_labels: &[(String, String)]) -> bool {
    !selector.is_empty() && selector.iter().all(|kv| pod_labels.contains(kv))
}

#[test]
fn variants_render_only_in_their_environments_and_never_share_selectors() {
    let out = render_fleet(&[]);
    for env in ["dev", "stage", "prod"] {
        assert!(
            !out.path()
                .join(format!("out/{env}/order-service-stress.yaml"))
                .exists(),
            "variant leaked into {env}"
        );
    }
    let main = docs(out.path(), "test/order-service.yaml");
    let variant = docs(out.path(), "test/order-service-stress.yaml");
    let pod_labels = |d: &[Node]| {
        labels(
            of_kind(d, "Deployment")[0]
                .get("spec")
                .and_then(|s| s.get("template"))
                .and_then(|t| t.get("metadata"))
                .and_then(|m| m.get("labels")),
        )
    };
    let svc_selector = |d: &[Node]| {
        labels(
            of_kind(d, "Service")[0]
                .get("spec")
                .and_then(|s| s.get("selector")),
        )
    };
    let deploy_selector = |d: &[Node]| {
        labels(
            of_kind(d, "Deployment")[0]
                .get("spec")
                .and_then(|s| s.get("selector"))
                .and_then(|s| s.get("matchLabels")),
        )
    };
    assert!(
        !selects(&svc_selector(&main), &pod_labels(&variant)),
        "main Service would send traffic to the variant"
    );
    assert!(
        !selects(&deploy_selector(&main), &pod_labels(&variant)),
        "main Deployment would adopt variant pods"
    );
    assert!(!selects(&svc_selector(&variant), &pod_labels(&main)));
    assert!(
        selects(&svc_selector(&main), &pod_labels(&main))
            && selects(&svc_selector(&variant), &pod_labels(&variant))
    );
    let vdeploy = of_kind(&variant, "Deployment")[0];
    assert_eq!(
        str_at(
            vdeploy,
            &[
                "spec",
                "template",
                "spec",
                "nodeSelector",
                "node-role.mall.example.com/loadtest"
            ]
        ),
        Some("true")
    );
    assert_eq!(
        seq(vdeploy, &["spec", "template", "spec", "tolerations"]).len(),
        1
    );
    let cm_names: Vec<_> = of_kind(&variant, "ConfigMap")
        .iter()
        .filter_map(|c| str_at(c, &["metadata", "name"]).map(str::to_string))
        .collect();
    assert_eq!(cm_names, ["order-service-stress-filebeat"]);
}

#[test]
fn team_role_bindings_exist_only_in_their_environments() {
    let out = render_fleet(&[]);
    let bindings = |env: &str| -> Vec<String> {
        of_kind(
            &docs(out.path(), &format!("{env}/_env.yaml")),
            "RoleBinding",
        )
        .iter()
        .filter_map(|b| str_at(b, &["metadata", "name"]).map(str::to_string))
        .filter(|n| n.starts_with("team-"))
        .collect()
    };
    assert_eq!(bindings("dev"), ["team-platform-admin", "team-trade-edit"]);
    assert_eq!(
        bindings("test"),
        ["team-platform-admin", "team-qa-edit", "team-trade-edit"]
    );
    assert_eq!(
        bindings("prod@aliyun-hz-prod"),
        ["team-platform-admin", "team-trade-oncall-view"]
    );
    let ns = of_kind(
        &docs(out.path(), "prod@aliyun-hz-prod/_env.yaml"),
        "Namespace",
    )
    .len();
    assert_eq!(ns, 1);
}

#[test]
fn ingress_nginx_ports_route_every_exposed_service_and_the_cluster_dns() {
    let out = render_fleet(&["--env", "stage"]);
    let d = docs(out.path(), "stage/_env.yaml");
    let cm = |name: &str| {
        of_kind(&d, "ConfigMap")
            .into_iter()
            .find(|c| str_at(c, &["metadata", "name"]) == Some(name))
            .unwrap()
            .clone()
    };
    let tcp = cm("tcp-services");
    assert_eq!(
        str_at(&tcp, &["data", "53"]),
        Some("kube-system/kube-dns:53")
    );
    assert_eq!(
        str_at(&tcp, &["data", "9400"]),
        Some("stage/payment-service:9400")
    );
    let Some(Value::Map(data)) = tcp.get("data").map(|n| &n.value) else {
        panic!("data")
    };
    assert!(
        data.values().all(|v| matches!(v.value, Value::Str(_))),
        "ConfigMap data values must be strings"
    );
    assert_eq!(
        str_at(&cm("udp-services"), &["data", "53"]),
        Some("kube-system/kube-dns:53")
    );
}

/// Every TCP/UDP port routed through one environment's ingress-nginx controller is claimed
/// once: a second claim (a service's `expose`, an `ingressNginx.tcp`/`.udp` entry, or the
/// controller's own ports) is an error naming both claims and the values line of each.
#[test]
fn a_port_claimed_twice_on_one_controller_is_an_error_naming_both_claims() {
    let p = fleet_copy();
    let d = p.path();
    // Two services: payment-service's own 9400 and gateway's in dev.
    crate::support::write(
        d,
        "values/services/gateway.dev.yaml",
        "expose:\n  tcp:\n    - {port: 9400}\n",
    );
    let (code, out, err) = kiln_in(d, &["render", "--env", "dev", "--stdout"]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains(
            "tcp port 9400 is claimed twice on the ingress-nginx controller of environment `dev`"
        ),
        "{err}"
    );
    assert!(
        err.contains("service `gateway` (values/services/gateway.dev.yaml:3:14)")
            && err
                .contains("service `payment-service` (values/services/payment-service.yaml:11:14)"),
        "{err}"
    );
    // `kiln check` says the same and exits 1.
    let (code, _, err) = kiln_in(d, &["check", "--env", "dev"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("tcp port 9400 is claimed twice"), "{err}");

    // The controller (enabled in dev) listens on 80 itself: a service cannot route 80 through it.
    crate::support::write(
        d,
        "values/services/gateway.dev.yaml",
        "expose:\n  tcp:\n    - {port: 80}\n",
    );
    let (code, _, err) = kiln_in(d, &["render", "--env", "dev", "--stdout"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("tcp port 80 is claimed twice")
            && err.contains("by the controller itself (http) (values/envs/dev.yaml:")
            && err.contains("service `gateway` (values/services/gateway.dev.yaml:3:14)"),
        "{err}"
    );
    // ... but it can in test, where no controller is enabled.
    crate::support::write(
        d,
        "values/services/gateway.test.yaml",
        "expose:\n  tcp:\n    - {port: 80}\n",
    );
    std::fs::remove_file(d.join("values/services/gateway.dev.yaml")).unwrap();
    let (code, out, err) = kiln_in(d, &["render", "--env", "test", "--stdout"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("test/gateway:80"), "{out}");

    // UDP: the cluster DNS on 53 (values/defaults.yaml) and a service's `expose.udp` 53.
    crate::support::write(
        d,
        "values/services/user-service.dev.yaml",
        "expose: {udp: [{port: 53}]}\n",
    );
    let (code, _, err) = kiln_in(d, &["render", "--env", "dev", "--stdout"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("udp port 53 is claimed twice")
            && err
                .contains("`ingressNginx.udp` entry `kube-system/kube-dns` (values/defaults.yaml:")
            && err.contains("service `user-service` (values/services/user-service.dev.yaml:1:23)"),
        "{err}"
    );
}

/// The example fleet's values and `kiln.yaml` (with the built-in templates), to change.
fn fleet_copy() -> tempfile::TempDir {
    repo_copy(&["kiln.yaml", "values"])
}

/// A values schema the project wrote is compiled when the project loads: a broken one is an
/// error at once, even for a set no instance uses (built-in sets' schemas compile on first use).
#[test]
fn a_broken_values_schema_of_the_project_is_an_error_even_unused() {
    let p = fleet_copy();
    let set = p.path().join("templates/unused");
    std::fs::create_dir_all(&set).unwrap();
    std::fs::write(
        set.join("configmap.yaml.j2"),
        "apiVersion: v1\nkind: ConfigMap\n",
    )
    .unwrap();
    std::fs::write(set.join("values.schema.json"), r#"{"type": 12}"#).unwrap();
    let (code, _, err) = kiln_in(p.path(), &["render", "--stdout"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("templates/unused/values.schema.json` is not a valid JSON Schema"),
        "{err}"
    );
    std::fs::remove_file(set.join("values.schema.json")).unwrap();
    let (code, _, err) = kiln_in(p.path(), &["render", "--stdout"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn values_schema_reports_a_misspelled_key_where_it_was_written() {
    let p = fleet_copy();
    let file = p.path().join("values/services/order-service.prod.yaml");
    std::fs::write(&file, "replicas: 6\nreplica: 2\n").unwrap();
    let (code, _, err) = kiln_in(p.path(), &["render", "--stdout"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("unknown values key `replica`"), "{err}");
    assert!(
        err.contains("values/services/order-service.prod.yaml:2:1"),
        "{err}"
    );
    assert!(err.contains("did you mean `replicas`?"), "{err}");
    assert!(!p.path().join("out").exists());
}

#[test]
fn values_schema_reports_a_wrong_type_where_it_was_set() {
    let p = fleet_copy();
    std::fs::write(
        p.path().join("values/services/user-service.test.yaml"),
        "replicas: \"3\"\n",
    )
    .unwrap();
    let (code, _, err) = kiln_in(p.path(), &["render", "--stdout", "--env", "test"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("invalid value for `replicas`: \"3\" is not of type \"integer\""),
        "{err}"
    );
    assert!(
        err.contains("values/services/user-service.test.yaml:1:11"),
        "{err}"
    );
    // The same through a nested key and an enum.
    let (code, _, err) = kiln_in(
        p.path(),
        &[
            "render",
            "--stdout",
            "--env",
            "dev",
            "--set",
            "service.type=LoadBalancr",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("invalid value for `service.type`"), "{err}");
    assert!(err.contains("--set #1"), "{err}");
}

#[test]
fn schema_command_prints_the_project_and_set_schemas() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (code, out, _) = kiln_in(root, &["schema"]);
    assert_eq!(code, 0);
    let schema: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(schema["title"], "kiln.yaml");
    assert_eq!(schema["additionalProperties"], false);
    let validator = jsonschema::validator_for(&schema).unwrap();
    let project: serde_json::Value = serde_json::to_value(
        kiln::yaml::parse(
            &std::fs::read_to_string(root.join("kiln.yaml")).unwrap(),
            0,
            Dialect::Values,
        )
        .unwrap(),
    )
    .unwrap();
    assert!(
        validator.is_valid(&project),
        "the example kiln.yaml must satisfy its own schema"
    );
    let (code, out, _) = kiln_in(root, &["schema", "spring-boot"]);
    assert_eq!(code, 0);
    assert!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["properties"]["replicas"]
            .is_object()
    );
    let (code, _, err) = kiln_in(root, &["schema", "sprng-boot"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `spring-boot`?"), "{err}");
}

/// The example fleet with `prod` values for `order-service` (the richer `spring-boot` keys),
/// rendered for that one instance; `kiln check` must pass on it (every object against the
/// embedded 1.34 schemas and the API-server rules).
fn order_service_prod_with(values: &str) -> Vec<Node> {
    let p = fleet_copy();
    crate::support::write(p.path(), "values/services/order-service.prod.yaml", values);
    // One of prod's two clusters: the check covers both, the render shows one.
    let args = ["--env", "prod", "--service", "order-service"];
    let (code, _, err) = kiln_in(p.path(), &[&["check"], &args[..]].concat());
    assert_eq!(code, 0, "kiln check: {err}");
    let one = ["--cluster", "aliyun-hz-prod"];
    let (code, out, err) = kiln_in(
        p.path(),
        &[&["render", "--stdout"], &args[..], &one[..]].concat(),
    );
    assert_eq!(code, 0, "{err}");
    parse_stream(&out, 0, Dialect::Kube).unwrap()
}

fn pod_spec(deploy: &Node) -> &Node {
    deploy
        .get("spec")
        .and_then(|s| s.get("template"))
        .and_then(|t| t.get("spec"))
        .unwrap()
}

fn names(items: &[Node]) -> Vec<&str> {
    items.iter().filter_map(|c| c.get_str("name")).collect()
}

#[test]
fn autoscaling_renders_an_hpa_and_the_deployment_leaves_replicas_to_it() {
    let d = order_service_prod_with(
        "autoscaling: {enabled: true, minReplicas: 3, maxReplicas: 10, targetMemoryUtilizationPercentage: 75}\n",
    );
    let deploy = of_kind(&d, "Deployment")[0];
    assert!(
        deploy.get("spec").unwrap().get("replicas").is_none(),
        "replicas would fight the HPA"
    );
    let hpa = of_kind(&d, "HorizontalPodAutoscaler")[0];
    assert_eq!(hpa.get_str("apiVersion"), Some("autoscaling/v2"));
    assert_eq!(
        str_at(hpa, &["spec", "scaleTargetRef", "name"]),
        Some("order-service")
    );
    assert_eq!(
        str_at(hpa, &["spec", "scaleTargetRef", "kind"]),
        Some("Deployment")
    );
    let num = |path: &[&str]| {
        let mut n = hpa;
        for p in path {
            n = n.get(p).unwrap();
        }
        serde_json::to_value(n).unwrap()
    };
    assert_eq!(num(&["spec", "minReplicas"]), 3);
    assert_eq!(num(&["spec", "maxReplicas"]), 10);
    let metrics = seq(hpa, &["spec", "metrics"]);
    let resources: Vec<_> = metrics
        .iter()
        .filter_map(|m| str_at(m, &["resource", "name"]))
        .collect();
    assert_eq!(
        resources,
        ["cpu", "memory"],
        "the default 80% CPU and the 75% memory"
    );
    // Without autoscaling: replicas as before, no HPA.
    let plain = order_service_prod_with("replicas: 6\n");
    assert!(of_kind(&plain, "HorizontalPodAutoscaler").is_empty());
    assert!(
        of_kind(&plain, "Deployment")[0]
            .get("spec")
            .unwrap()
            .get("replicas")
            .is_some()
    );
}

#[test]
fn pod_disruption_budget_takes_one_of_min_available_and_max_unavailable() {
    let d =
        order_service_prod_with("podDisruptionBudget: {enabled: true, minAvailable: \"50%\"}\n");
    let pdb = of_kind(&d, "PodDisruptionBudget")[0];
    assert_eq!(pdb.get_str("apiVersion"), Some("policy/v1"));
    assert_eq!(str_at(pdb, &["spec", "minAvailable"]), Some("50%"));
    assert!(pdb.get("spec").unwrap().get("maxUnavailable").is_none());
    assert_eq!(
        labels(
            pdb.get("spec")
                .and_then(|s| s.get("selector"))
                .and_then(|s| s.get("matchLabels"))
        ),
        labels(
            of_kind(&d, "Deployment")[0]
                .get("spec")
                .and_then(|s| s.get("selector"))
                .and_then(|s| s.get("matchLabels"))
        ),
        "the PDB selects exactly the Deployment's pods"
    );
    let d = order_service_prod_with("podDisruptionBudget: {enabled: true}\n");
    let pdb = of_kind(&d, "PodDisruptionBudget")[0];
    assert_eq!(
        serde_json::to_value(pdb.get("spec").unwrap().get("maxUnavailable").unwrap()).unwrap(),
        1
    );
    assert!(
        of_kind(
            &order_service_prod_with("replicas: 2\n"),
            "PodDisruptionBudget"
        )
        .is_empty()
    );
    // Both is an error at the values line.
    let p = fleet_copy();
    crate::support::write(
        p.path(),
        "values/services/order-service.prod.yaml",
        "podDisruptionBudget:\n  enabled: true\n  minAvailable: 1\n  maxUnavailable: 1\n",
    );
    let (code, _, err) = kiln_in(p.path(), &["render", "--stdout", "--env", "prod"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("set only one of"), "{err}");
    assert!(
        err.contains("values/services/order-service.prod.yaml:4:"),
        "{err}"
    );
}

#[test]
fn env_values_are_scalars_or_a_value_from_source() {
    let d = order_service_prod_with(
        "env:
  SPRING_DATASOURCE_PASSWORD: {secretKeyRef: {name: mysql-mall-order, key: password}}
  FEATURE_FLAGS: {configMapKeyRef: {name: flags, key: order, optional: true}}
  NODE_NAME: {fieldRef: {fieldPath: spec.nodeName}}
  HEAP_LIMIT_MB: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
  PLAIN: 42
envFrom:
  - secretRef: {name: order-common}
",
    );
    let app = &containers(of_kind(&d, "Deployment")[0])[0];
    let var = |name: &str| {
        seq(app, &["env"])
            .iter()
            .find(|e| e.get_str("name") == Some(name))
            .unwrap_or_else(|| panic!("no env {name}"))
            .clone()
    };
    let pw = var("SPRING_DATASOURCE_PASSWORD");
    assert!(pw.get("value").is_none());
    assert_eq!(
        str_at(&pw, &["valueFrom", "secretKeyRef", "name"]),
        Some("mysql-mall-order")
    );
    assert_eq!(
        str_at(&pw, &["valueFrom", "secretKeyRef", "key"]),
        Some("password")
    );
    assert_eq!(
        str_at(
            &var("FEATURE_FLAGS"),
            &["valueFrom", "configMapKeyRef", "key"]
        ),
        Some("order")
    );
    assert_eq!(
        str_at(&var("NODE_NAME"), &["valueFrom", "fieldRef", "fieldPath"]),
        Some("spec.nodeName")
    );
    assert_eq!(
        str_at(
            &var("HEAP_LIMIT_MB"),
            &["valueFrom", "resourceFieldRef", "divisor"]
        ),
        Some("1Mi")
    );
    assert_eq!(env_value(app, "PLAIN").as_deref(), Some("42"));
    assert_eq!(
        str_at(&seq(app, &["envFrom"])[0], &["secretRef", "name"]),
        Some("order-common")
    );
    // A misspelled source is an unknown key with a suggestion; two sources are refused.
    let p = fleet_copy();
    crate::support::write(
        p.path(),
        "values/services/order-service.prod.yaml",
        "env:\n  DB_PASSWORD: {secretKeyRf: {name: mysql, key: password}}\n",
    );
    let (code, _, err) = kiln_in(p.path(), &["render", "--stdout", "--env", "prod"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("unknown values key `env.DB_PASSWORD.secretKeyRf`"),
        "{err}"
    );
    assert!(
        err.contains("did you mean `env.DB_PASSWORD.secretKeyRef`?"),
        "{err}"
    );
    assert!(
        err.contains("values/services/order-service.prod.yaml:2:"),
        "{err}"
    );
    crate::support::write(
        p.path(),
        "values/services/order-service.prod.yaml",
        "env:\n  X: {fieldRef: {fieldPath: a}, secretKeyRef: {name: b, key: c}}\n",
    );
    let (code, _, err) = kiln_in(p.path(), &["render", "--stdout", "--env", "prod"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("invalid value for `env.X`"), "{err}");
}

#[test]
fn init_and_extra_containers_volumes_and_pull_secrets_join_the_pod() {
    let d = order_service_prod_with(
        "imagePullSecrets: [{name: aliyun-acr-mall}]
initContainers:
  - name: wait-for-mysql
    image: busybox:1.36
    command: [sh, -c, 'until nc -z mysql.infra 3306; do sleep 2; done']
    resources: {limits: {cpu: 100m, memory: 64Mi}, requests: {cpu: 10m, memory: 16Mi}}
extraContainers:
  - name: skywalking-agent
    image: apache/skywalking-java-agent:9.3.0-alpine
    resources: {limits: {cpu: 100m, memory: 128Mi}, requests: {cpu: 10m, memory: 32Mi}}
    volumeMounts: [{name: agent, mountPath: /agent}]
volumes: [{name: agent, emptyDir: {}}]
volumeMounts: [{name: agent, mountPath: /skywalking}]
command: [java]
args: [-jar, /app/app.jar]
serviceAccount: {create: true}
podSecurityContext: {runAsNonRoot: true, fsGroup: 1000}
securityContext: {allowPrivilegeEscalation: false}
priorityClassName: mall-critical
strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
lifecycle: {preStop: {sleep: {seconds: 10}}}
startupProbe: {httpGet: {path: /actuator/health/liveness, port: http}, failureThreshold: 30, periodSeconds: 10}
topologySpreadConstraints:
  - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: order-service}}}
affinity: {podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 100, podAffinityTerm: {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: order-service}}}}]}}
",
    );
    let deploy = of_kind(&d, "Deployment")[0];
    let pod = pod_spec(deploy);
    assert_eq!(
        names(seq(pod, &["containers"])),
        ["app", "filebeat", "skywalking-agent"],
        "the app stays first: the default container of kubectl logs/exec"
    );
    assert_eq!(names(seq(pod, &["initContainers"])), ["wait-for-mysql"]);
    assert_eq!(names(seq(pod, &["imagePullSecrets"])), ["aliyun-acr-mall"]);
    assert_eq!(
        names(seq(pod, &["volumes"])),
        ["app-logs", "filebeat-config", "agent"]
    );
    let app = &containers(deploy)[0];
    assert_eq!(names(seq(app, &["volumeMounts"])), ["app-logs", "agent"]);
    assert_eq!(str_at(&seq(app, &["command"])[0], &[]), Some("java"));
    assert_eq!(seq(app, &["args"]).len(), 2);
    for key in ["startupProbe", "lifecycle", "securityContext"] {
        assert!(app.get(key).is_some(), "app container has no {key}");
    }
    for key in ["securityContext", "affinity", "topologySpreadConstraints"] {
        assert!(pod.get(key).is_some(), "pod has no {key}");
    }
    assert_eq!(pod.get_str("serviceAccountName"), Some("order-service"));
    assert_eq!(pod.get_str("priorityClassName"), Some("mall-critical"));
    assert_eq!(
        str_at(deploy, &["spec", "strategy", "type"]),
        Some("RollingUpdate")
    );
    let sa = of_kind(&d, "ServiceAccount")[0];
    assert_eq!(str_at(sa, &["metadata", "name"]), Some("order-service"));
}

#[test]
fn the_richer_keys_are_off_by_default_and_misspellings_are_caught() {
    // Defaults add nothing: the example fleet's golden files are unchanged by the new keys
    // (tests/golden.rs), and a plain instance has no new objects.
    let d = order_service_prod_with("replicas: 2\n");
    let kinds: Vec<_> = d.iter().filter_map(|n| n.get_str("kind")).collect();
    assert_eq!(kinds, ["ConfigMap", "Service", "Deployment"]);
    let pod = pod_spec(of_kind(&d, "Deployment")[0]);
    // (The fleet's own values/defaults.yaml sets imagePullSecrets for every service.)
    for key in [
        "securityContext",
        "serviceAccountName",
        "initContainers",
        "affinity",
    ] {
        assert!(pod.get(key).is_none(), "{key} rendered by default");
    }
    let p = fleet_copy();
    crate::support::write(
        p.path(),
        "values/services/order-service.prod.yaml",
        "podDisruptionBudjet: {enabled: true}\nimagePullSecret: [{name: x}]\n",
    );
    let (code, _, err) = kiln_in(p.path(), &["render", "--stdout", "--env", "prod"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("did you mean `podDisruptionBudget`?"), "{err}");
    assert!(err.contains("did you mean `imagePullSecrets`?"), "{err}");
}

/// Shared layers (`values/defaults.yaml`, `values/envs/*`) reach every instance, so a key one set
/// declares is not an error for another set's instances when it comes from there; a key no set
/// declares is still an error with a did-you-mean; and `kiln schema SET > its own file` works.
#[test]
fn values_schemas_fit_shared_layers() {
    let p = fleet_copy();
    let d = p.path();
    let store_schema = r#"{"type": "object", "additionalProperties": false,
        "properties": {"template": {"type": "string"}, "backup": {"type": "object",
        "additionalProperties": false, "properties": {"className": {"type": "string"}}}}}"#;
    crate::support::write(d, "templates/store/values.schema.json", store_schema);
    crate::support::write(
        d,
        "templates/store/pvc.yaml.j2",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ service.name }}\ndata:\n  class: {{ values.backup.className }}\n",
    );
    crate::support::write(d, "values/services/redis.yaml", "template: store\n");
    let dev = std::fs::read_to_string(d.join("values/envs/dev.yaml")).unwrap();
    crate::support::write(
        d,
        "values/envs/dev.yaml",
        format!("{dev}backup: {{className: nfs-client}}\n"),
    );
    // `backup` (declared by `store`) reaches the spring-boot services from envs/dev.yaml, and
    // the spring-boot keys of defaults.yaml reach redis: neither is an error.
    let (code, out, err) = kiln_in(d, &["render", "--env", "dev", "--stdout"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("class: nfs-client"), "{out}");

    // Set for one service, the key is still checked against that service's own set.
    crate::support::write(
        d,
        "values/services/gateway.dev.yaml",
        "backup: {className: x}\n",
    );
    let (code, _, err) = kiln_in(d, &["render", "--env", "dev", "--stdout"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("unknown values key `backup`")
            && err.contains("values/services/gateway.dev.yaml:1:"),
        "{err}"
    );
    std::fs::remove_file(d.join("values/services/gateway.dev.yaml")).unwrap();

    // A key no set declares, in a shared layer: an error, with a suggestion, all in one run.
    let defaults = std::fs::read_to_string(d.join("values/defaults.yaml")).unwrap();
    crate::support::write(
        d,
        "values/defaults.yaml",
        format!("{defaults}replcas: 2\njavaOtps: x\n"),
    );
    let (code, _, err) = kiln_in(d, &["render", "--env", "dev", "--stdout"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("did you mean `replicas`?") && err.contains("did you mean `javaOpts`?"),
        "{err}"
    );
    crate::support::write(d, "values/defaults.yaml", defaults);

    // The shell empties the file before kiln reads it: kiln prints the built-in schema.
    std::fs::create_dir_all(d.join("templates/spring-boot")).unwrap();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{} schema spring-boot > templates/spring-boot/values.schema.json",
            env!("CARGO_BIN_EXE_kiln")
        ))
        .current_dir(d)
        .status()
        .unwrap();
    assert!(status.success());
    let written =
        std::fs::read_to_string(d.join("templates/spring-boot/values.schema.json")).unwrap();
    let builtin = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/spring-boot/values.schema.json"),
    )
    .unwrap();
    assert_eq!(written, builtin);
    let (code, _, err) = kiln_in(d, &["render", "--env", "dev", "--stdout"]);
    assert_eq!(code, 0, "{err}");
}
