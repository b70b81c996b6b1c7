//! The platform pieces that are computed, not templated: the Eureka member list of an
//! environment, a Eureka client's environment variables, a filebeat sidecar's config, and the
//! ports and identity of an environment's ingress-nginx controller (the DNS proxy).
//!
//! Computed once here so that no template re-derives them by string manipulation. The member
//! list comes from the environment's instance of the `eureka-server` set; the ingress ports from
//! every instance's `expose` and the environment's `ingressNginx` values, with the values
//! location of every claim, so a port claimed twice is an error naming both places.

use minijinja::value::Value as JValue;
use minijinja::{Environment, Error, ErrorKind, context};
use serde_json::json;

use std::collections::BTreeMap;

use crate::config::Environment as KEnv;
use crate::diagnostic::Diagnostic;
use crate::manifest::ResourceId;
use crate::source::{Loc, Sources};
use crate::values::Instance;
use crate::yaml::{Node, Value};

/// The template set whose instance is an environment's Eureka peer set.
pub const EUREKA_SET: &str = "eureka-server";

/// Register the platform functions on `env`.
pub fn register(env: &mut Environment<'_>) {
    env.add_function("eureka_client_env", eureka_client_env);
    env.add_function("filebeat_config", filebeat_config);
}

/// The name of the ingress-nginx controller's Deployment (and of its ServiceAccount and RBAC
/// objects) that `_env` renders with `ingressNginx.controller.enabled`.
pub const INGRESS_CONTROLLER: &str = "ingress-nginx-controller";

/// What the controller itself listens on, on the node (it runs with `hostNetwork`): a TCP port
/// routed through it must not be one of these.
const CONTROLLER_PORTS: [(i64, &str); 4] = [
    (80, "http"),
    (443, "https"),
    (8181, "default server"),
    (10254, "health and metrics"),
];

/// One claim of a port on the controller: what it routes to, who claims it and where.
struct Claim {
    target: Option<String>,
    who: String,
    at: Loc,
}

/// `file:line:col` of a values location (none for values nobody wrote, such as defaults).
fn place(sources: &Sources, loc: Loc) -> Option<String> {
    (loc != Loc::default()).then(|| sources.describe(loc))
}

fn enabled(controller: Option<&Node>) -> bool {
    matches!(
        controller.and_then(|c| c.get("enabled")).map(|n| &n.value),
        Some(Value::Bool(true))
    )
}

/// The identity of environment `env`'s ingress-nginx controller Deployment, when its values
/// (`env_values`: the environment's merged values without a service) enable it. kiln renders
/// it with `hostNetwork: true` on purpose, so the `host-network` lint allows exactly this object.
#[must_use]
pub fn ingress_controller(env: &KEnv, env_values: &Node) -> Option<ResourceId> {
    let nginx = env_values.get("ingressNginx");
    let controller = nginx.and_then(|n| n.get("controller"));
    enabled(controller).then(|| ResourceId {
        api_version: "apps/v1".to_string(),
        kind: "Deployment".to_string(),
        namespace: Some(ingress_namespace(env, nginx)),
        name: INGRESS_CONTROLLER.to_string(),
    })
}

/// The namespace of the controller and its `tcp-services`/`udp-services` `ConfigMap`s:
/// `ingressNginx.controller.namespace` when the controller is enabled, else
/// `ingressNginx.namespace`, else the environment's.
fn ingress_namespace(env: &KEnv, nginx: Option<&Node>) -> String {
    let controller = nginx.and_then(|n| n.get("controller"));
    let from_controller = controller
        .filter(|c| enabled(Some(c)))
        .and_then(|c| c.get_str("namespace"));
    from_controller
        .or_else(|| nginx.and_then(|n| n.get_str("namespace")))
        .unwrap_or(&env.namespace)
        .to_string()
}

/// The `ingress` context value of environment `env` for the `_env` templates: `{namespace,
/// controller: {enabled, name, namespace}, tcp: {"<port>": "<namespace>/<service>:<port>"},
/// udp: {...}}`. Every TCP/UDP port routed through the environment's controller is claimed
/// once: by a service's `expose.tcp`/`expose.udp` entry, an `ingressNginx.tcp`/`.udp` entry, or
/// (TCP, with the controller enabled) the controller's own ports. A second claim is an error
/// naming both claims and the values file, line and column of each.
pub fn ingress_context(
    env: &KEnv,
    env_values: &Node,
    instances: &[&Instance],
    sources: &Sources,
) -> Result<JValue, Diagnostic> {
    let nginx = env_values.get("ingressNginx");
    let controller = nginx.and_then(|n| n.get("controller"));
    let namespace = ingress_namespace(env, nginx);
    let on = enabled(controller);
    if on
        && let (Some(own), Some(general)) = (
            controller.and_then(|c| c.get("namespace")),
            nginx.and_then(|n| n.get("namespace")),
        )
        && own.value != general.value
    {
        let d = Diagnostic::error(format!(
            "`ingressNginx.namespace` and `ingressNginx.controller.namespace` differ in environment `{}`; the controller reads its tcp-services and udp-services ConfigMaps from its own namespace",
            env.name
        ))
        .at(sources, general.loc, "the ConfigMaps' namespace");
        return Err(d
            .note(place(sources, own.loc).map_or_else(
                || "the controller's namespace is set in the values".to_string(),
                |p| format!("the controller's namespace is set at {p}"),
            ))
            .help("set only `ingressNginx.controller.namespace` (`null` removes the other)"));
    }
    let mut out = serde_json::Map::new();
    for protocol in ["tcp", "udp"] {
        let mut claims: BTreeMap<i64, Claim> = BTreeMap::new();
        let mut claim = |port: &Node, target: Option<String>, who: String| {
            let Value::Int(number) = port.value else {
                return Err(Diagnostic::error(format!(
                    "{who}: a {protocol} port must be a number"
                ))
                .at(sources, port.loc, "expected a port number"));
            };
            if !(1..=65535).contains(&number) {
                return Err(Diagnostic::error(format!(
                    "{who}: {protocol} port {number} is not between 1 and 65535"
                ))
                .at(sources, port.loc, "not a port"));
            }
            if let Some(first) = claims.get(&number) {
                let first_place =
                    place(sources, first.at).map_or_else(String::new, |p| format!(" ({p})"));
                let second_place =
                    place(sources, port.loc).map_or_else(String::new, |p| format!(" ({p})"));
                return Err(Diagnostic::error(format!(
                    "{protocol} port {number} is claimed twice on the ingress-nginx controller of environment `{}`: by {}{first_place} and by {who}{second_place}",
                    env.name, first.who
                ))
                .at(sources, port.loc, "claimed again here")
                .help("route each port through one service only: give one of them another port"));
            }
            claims.insert(
                number,
                Claim {
                    target,
                    who,
                    at: port.loc,
                },
            );
            Ok(())
        };
        if on && protocol == "tcp" {
            let at = controller
                .and_then(|c| c.get("enabled"))
                .map_or_else(Loc::default, |n| n.loc);
            for (number, what) in CONTROLLER_PORTS {
                claim(
                    &Node::new(Value::Int(number), at),
                    None,
                    format!("the controller itself ({what})"),
                )?;
            }
        }
        let entries = nginx.and_then(|n| n.get(protocol));
        for entry in seq(entries) {
            let port = entry.get("port").ok_or_else(|| {
                Diagnostic::error(format!(
                    "every `ingressNginx.{protocol}` entry needs `port`"
                ))
                .at(sources, entry.loc, "no `port`")
            })?;
            let Some(service) = entry.get_str("service") else {
                return Err(Diagnostic::error(format!(
                    "`ingressNginx.{protocol}` entry needs `service: <namespace>/<name>`"
                ))
                .at(sources, entry.loc, "no `service`"));
            };
            let target = match entry.get("targetPort").map(|n| &n.value) {
                Some(Value::Int(t)) => *t,
                _ => match port.value {
                    Value::Int(p) => p,
                    _ => 0,
                },
            };
            claim(
                port,
                Some(format!("{service}:{target}")),
                format!("`ingressNginx.{protocol}` entry `{service}`"),
            )?;
        }
        for inst in instances {
            let entries = inst.values.get("expose").and_then(|e| e.get(protocol));
            for entry in seq(entries) {
                let port = entry.get("port").ok_or_else(|| {
                    Diagnostic::error(format!(
                        "`{}`: every `expose.{protocol}` entry needs `port`",
                        inst.name
                    ))
                    .at(sources, entry.loc, "no `port`")
                })?;
                let target = match port.value {
                    Value::Int(p) => Some(format!("{}/{}:{p}", env.namespace, inst.name)),
                    _ => None,
                };
                claim(port, target, format!("service `{}`", inst.name))?;
            }
        }
        let data: serde_json::Map<String, serde_json::Value> = claims
            .into_iter()
            .filter_map(|(p, c)| {
                c.target
                    .map(|t| (p.to_string(), serde_json::Value::String(t)))
            })
            .collect();
        out.insert(protocol.to_string(), serde_json::Value::Object(data));
    }
    out.insert(
        "namespace".to_string(),
        serde_json::Value::String(namespace.clone()),
    );
    out.insert(
        "controller".to_string(),
        json!({"enabled": on, "name": INGRESS_CONTROLLER, "namespace": namespace}),
    );
    Ok(JValue::from(minijinja::value::Serde(
        serde_json::Value::Object(out),
    )))
}

fn seq(node: Option<&Node>) -> &[Node] {
    match node.map(|n| &n.value) {
        Some(Value::Seq(items)) => items,
        _ => &[],
    }
}

/// The `eureka` context value of environment `env`: `{enabled, name, shape, port, peers,
/// members: [{index, name, host, url}], urls}`; `enabled` is false when the environment has no
/// `eureka-server` instance.
pub fn eureka_context(env: &KEnv, instances: &[&Instance]) -> Result<JValue, Diagnostic> {
    let servers: Vec<&&Instance> = instances
        .iter()
        .filter(|i| i.template == EUREKA_SET)
        .collect();
    let server = match servers.as_slice() {
        [] => {
            return Ok(
                context! { enabled => false, members => Vec::<JValue>::new(), urls => Vec::<String>::new() },
            );
        }
        [one] => one,
        [a, b, ..] => {
            return Err(Diagnostic::error(format!(
                "environment `{}` has two Eureka peer sets, `{}` and `{}`",
                env.name, a.name, b.name
            ))
            .help("keep one service with `template: eureka-server` per environment"));
        }
    };
    let eureka = server.values.get("eureka");
    let int = |key: &str, default: i64| match eureka.and_then(|e| e.get(key)).map(|n| &n.value) {
        Some(Value::Int(i)) => Ok(*i),
        None => Ok(default),
        Some(_) => Err(Diagnostic::error(format!(
            "`eureka.{key}` of `{}` must be an integer",
            server.name
        ))),
    };
    let peers = int("peers", 3)?;
    if !(1..=15).contains(&peers) {
        return Err(Diagnostic::error(format!(
            "`eureka.peers` of `{}` is {peers}; a peer set has 1 to 15 members",
            server.name
        )));
    }
    let port = match server.values.get("port").map(|n| &n.value) {
        Some(Value::Int(p)) => *p,
        _ => 8761,
    };
    let shape = eureka
        .and_then(|e| e.get_str("shape"))
        .unwrap_or("statefulset");
    if shape != "statefulset" && shape != "deployments" {
        return Err(Diagnostic::error(format!(
            "`eureka.shape` of `{}` is `{shape}`; use `statefulset` or `deployments`",
            server.name
        )));
    }
    let name = &server.name;
    let ns = &env.namespace;
    let members: Vec<JValue> = (0..peers)
        .map(|i| {
            let member = format!("{name}-{i}");
            let host = if shape == "statefulset" {
                format!("{member}.{name}.{ns}.svc.cluster.local")
            } else {
                format!("{member}.{ns}.svc.cluster.local")
            };
            let url = format!("http://{host}:{port}/eureka/");
            context! { index => i, name => member, host => host, url => url }
        })
        .collect();
    let urls: Vec<String> = members
        .iter()
        .filter_map(|m| m.get_attr("url").ok().map(|u| u.to_string()))
        .collect();
    Ok(
        context! { enabled => true, name => name.clone(), shape => shape, port => port, peers => peers, members => members, urls => urls },
    )
}

/// Environment variables that make a Spring Cloud service register in Eureka by pod IP under
/// its service name (no namespace in the name), listing every member of the peer set.
fn eureka_client_env(eureka: &JValue, service: &JValue, port: i64) -> Result<Vec<JValue>, Error> {
    let name = service.get_attr("name")?;
    if !eureka.get_attr("enabled")?.is_true() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "`{name}` has `eureka.client.enabled: true`, but this environment has no service with `template: {EUREKA_SET}`"
            ),
        ));
    }
    let urls: Vec<String> = eureka
        .get_attr("urls")?
        .try_iter()?
        .map(|u| u.to_string())
        .collect();
    let pairs = [
        ("EUREKA_CLIENT_SERVICEURL_DEFAULTZONE", urls.join(",")),
        ("EUREKA_INSTANCE_PREFER_IP_ADDRESS", "true".to_string()),
        ("EUREKA_INSTANCE_IP_ADDRESS", "$(POD_IP)".to_string()),
        (
            "EUREKA_INSTANCE_INSTANCE_ID",
            format!("{name}:$(POD_IP):{port}"),
        ),
    ];
    Ok(pairs
        .into_iter()
        .map(|(k, v)| JValue::from(minijinja::value::Serde(json!({"name": k, "value": v}))))
        .collect())
}

/// The `filebeat.yml` of an instance's sidecar: read the app's log files, tag every event with
/// namespace, service and pod IP (the first and last from the downward API via environment
/// variables, never hard-coded), ship to Kafka.
fn filebeat_config(service: &JValue, _env: &JValue, values: &JValue) -> Result<JValue, Error> {
    let fb = values.get_attr("logging")?.get_attr("filebeat")?;
    let name = service.get_attr("name")?.to_string();
    let kafka = fb.get_attr("kafka")?;
    let hosts: Vec<String> = kafka
        .get_attr("hosts")?
        .try_iter()?
        .map(|h| h.to_string())
        .collect();
    if hosts.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "`{name}` ships logs with filebeat but `logging.filebeat.kafka.hosts` is empty; set it per environment in values/envs/<env>.yaml"
            ),
        ));
    }
    let paths: Vec<String> = fb
        .get_attr("paths")?
        .try_iter()?
        .map(|p| p.to_string())
        .collect();
    let mut input = json!({
        "type": "filestream",
        "id": format!("{name}-app-logs"),
        "paths": paths,
        "fields_under_root": true,
        "fields": {
            "namespace": "${POD_NAMESPACE}",
            "service": name,
            "pod_ip": "${POD_IP}",
        },
    });
    let multiline = fb.get_attr("multiline")?;
    if let Some(pattern) = multiline.as_str().filter(|p| !p.is_empty()) {
        input["parsers"] = json!([{"multiline": {"type": "pattern", "pattern": pattern, "negate": true, "match": "after"}}]);
    }
    Ok(JValue::from(minijinja::value::Serde(json!({
        "filebeat.inputs": [input],
        "output.kafka": {
            "hosts": hosts,
            "topic": kafka.get_attr("topic")?.to_string(),
            "required_acks": 1,
            "compression": "gzip",
        },
    }))))
}
