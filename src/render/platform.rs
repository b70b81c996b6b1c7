//! The platform pieces that are computed, not templated: the Eureka member list of an
//! environment, a Eureka client's environment variables, and a filebeat sidecar's config.
//!
//! Computed once here so that no template re-derives them by string manipulation. The member
//! list comes from the environment's instance of the `eureka-server` set.

use minijinja::value::Value as JValue;
use minijinja::{Environment, Error, ErrorKind, context};
use serde_json::json;

use crate::config::Environment as KEnv;
use crate::diagnostic::Diagnostic;
use crate::values::Instance;
use crate::yaml::Value;

/// The template set whose instance is an environment's Eureka peer set.
pub const EUREKA_SET: &str = "eureka-server";

/// Register the platform functions on `env`.
pub fn register(env: &mut Environment<'_>) {
    env.add_function("eureka_client_env", eureka_client_env);
    env.add_function("filebeat_config", filebeat_config);
    env.add_function("ingress_ports", ingress_ports);
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

/// The data of ingress-nginx's `tcp-services`/`udp-services` `ConfigMap` for one environment:
/// `"<port>": "<namespace>/<service>:<port>"` from every service's `expose.<protocol>` and from
/// `extra` entries (`{port, service: "kube-system/kube-dns", targetPort}`), sorted by port.
/// Two claims of the same external port are an error naming both.
fn ingress_ports(
    services: &JValue,
    extra: &JValue,
    namespace: &str,
    protocol: &str,
) -> Result<JValue, Error> {
    let mut claims: std::collections::BTreeMap<i64, (String, String)> =
        std::collections::BTreeMap::new();
    let mut claim = |port: i64, target: String, who: String| -> Result<(), Error> {
        if !(1..=65535).contains(&port) {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("{who}: {protocol} port {port} is not between 1 and 65535"),
            ));
        }
        if let Some((_, first)) = claims.get(&port) {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "{protocol} port {port} is exposed twice in namespace `{namespace}`: by {first} and by {who}; give one of them another port"
                ),
            ));
        }
        claims.insert(port, (target, who));
        Ok(())
    };
    let port_of = |entry: &JValue, key: &str| -> Result<Option<i64>, Error> {
        let v = entry.get_attr(key)?;
        if v.is_undefined() {
            return Ok(None);
        }
        i64::try_from(v.clone()).map(Some).map_err(|_| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("`{key}` must be a port number, found `{v}`"),
            )
        })
    };
    for entry in extra.try_iter()? {
        let port = port_of(&entry, "port")?.ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("every `ingressNginx.{protocol}` entry needs `port`"),
            )
        })?;
        let service = entry.get_attr("service")?;
        let Some(service) = service.as_str() else {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "`ingressNginx.{protocol}` entry for port {port} needs `service: <namespace>/<name>`"
                ),
            ));
        };
        let target = port_of(&entry, "targetPort")?.unwrap_or(port);
        claim(
            port,
            format!("{service}:{target}"),
            format!("`ingressNginx.{protocol}` entry `{service}`"),
        )?;
    }
    for svc in services.try_iter()? {
        let name = svc.get_attr("name")?.to_string();
        let exposed = svc.get_attr("values")?.get_attr("expose")?;
        if exposed.is_undefined() {
            continue;
        }
        let list = exposed.get_attr(protocol)?;
        if list.is_undefined() {
            continue;
        }
        for entry in list.try_iter()? {
            let port = port_of(&entry, "port")?.ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("`{name}`: every `expose.{protocol}` entry needs `port`"),
                )
            })?;
            claim(
                port,
                format!("{namespace}/{name}:{port}"),
                format!("service `{name}`"),
            )?;
        }
    }
    let data: serde_json::Map<String, serde_json::Value> = claims
        .into_iter()
        .map(|(p, (t, _))| (p.to_string(), serde_json::Value::String(t)))
        .collect();
    Ok(JValue::from(minijinja::value::Serde(data)))
}
