//! What a rendered object takes on its cluster beyond its own identity: TCP/UDP ports on the
//! nodes. Used to find environments that share a cluster and would fight over a port.
//!
//! A port is claimed by a Service's `nodePort` (open on every node), a container's `hostPort`,
//! every container port of a `hostNetwork` pod, and every port listed in the ConfigMap a
//! `hostNetwork` ingress-nginx controller is pointed at (`--tcp-services-configmap=NS/NAME`,
//! `--udp-services-configmap=...`): the controller binds those on its node. kiln does not know
//! where pods are scheduled, so a claim counts for the whole cluster. Reads trees; decides
//! nothing about what is an error.

use crate::yaml::{Node, Value};

use super::Manifest;

/// One port an object takes on the nodes of its cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortClaim {
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The port number.
    pub port: i64,
    /// How it is claimed, for messages: "nodePort of Service prod/gateway".
    pub how: String,
    /// The template of the object that claims it (as shown).
    pub template: String,
}

/// A `hostNetwork` controller's pointer at a ConfigMap of ports.
#[derive(Debug, Clone)]
struct PortMapRef {
    protocol: &'static str,
    namespace: String,
    name: String,
    reader: String,
}

/// A ConfigMap whose keys are port numbers (ingress-nginx's `tcp-services`).
#[derive(Debug, Clone)]
struct PortMap {
    namespace: String,
    name: String,
    ports: Vec<i64>,
    template: String,
}

/// What the objects of one output file say about ports; an environment's files are gathered
/// with [`Ports::extend`] and turned into claims with [`Ports::resolve`], since a controller
/// and the ConfigMap it reads may come from different files.
#[derive(Debug, Clone, Default)]
pub struct Ports {
    claims: Vec<PortClaim>,
    refs: Vec<PortMapRef>,
    maps: Vec<PortMap>,
}

impl Ports {
    /// Read the objects of one file.
    #[must_use]
    pub fn of(manifests: &[Manifest]) -> Ports {
        let mut out = Ports::default();
        for m in manifests {
            out.read(m);
        }
        out
    }

    /// Add another file's.
    pub fn extend(&mut self, other: Ports) {
        self.claims.extend(other.claims);
        self.refs.extend(other.refs);
        self.maps.extend(other.maps);
    }

    /// Every claim, with the ports of the ConfigMaps that `hostNetwork` controllers read.
    #[must_use]
    pub fn resolve(self) -> Vec<PortClaim> {
        let mut claims = self.claims;
        for r in &self.refs {
            let found = self
                .maps
                .iter()
                .find(|m| m.name == r.name && m.namespace == r.namespace);
            let Some(map) = found else { continue };
            for port in &map.ports {
                claims.push(PortClaim {
                    protocol: r.protocol.to_string(),
                    port: *port,
                    how: format!(
                        "port in ConfigMap {}/{} read by hostNetwork {}",
                        r.namespace, r.name, r.reader
                    ),
                    template: map.template.clone(),
                });
            }
        }
        claims
    }

    fn read(&mut self, m: &Manifest) {
        // Most objects claim nothing: their description is written only for a claim.
        let what = || format!("{} {}", m.id.kind, qualified(m));
        let template = &m.origin.template_shown;
        let namespace = m.id.namespace.as_deref().unwrap_or_default();
        if m.id.kind == "ConfigMap"
            && let Some(Value::Map(data)) = m.doc.get("data").map(|d| &d.value)
        {
            let ports: Vec<i64> = data
                .keys()
                .filter_map(|k| k.trim().parse::<i64>().ok())
                .collect();
            if !ports.is_empty() {
                self.maps.push(PortMap {
                    namespace: namespace.to_string(),
                    name: m.id.name.clone(),
                    ports,
                    template: template.clone(),
                });
            }
        }
        if m.id.kind == "Service" {
            for p in items(m.doc.get("spec").and_then(|s| s.get("ports"))) {
                if let Some(port) = int(p.get("nodePort")) {
                    self.claims.push(PortClaim {
                        protocol: protocol(p),
                        port,
                        how: format!("nodePort of {}", what()),
                        template: template.clone(),
                    });
                }
            }
        }
        let Some(pod) = pod_spec(&m.doc, &m.id.kind) else {
            return;
        };
        let host_network = matches!(
            pod.get("hostNetwork").map(|n| &n.value),
            Some(Value::Bool(true))
        );
        for c in items(pod.get("containers")) {
            for p in items(c.get("ports")) {
                let port = if host_network {
                    int(p.get("hostPort")).or_else(|| int(p.get("containerPort")))
                } else {
                    int(p.get("hostPort"))
                };
                if let Some(port) = port {
                    let kind = if host_network {
                        "hostNetwork port"
                    } else {
                        "hostPort"
                    };
                    self.claims.push(PortClaim {
                        protocol: protocol(p),
                        port,
                        how: format!("{kind} of {}", what()),
                        template: template.clone(),
                    });
                }
            }
            if !host_network {
                continue;
            }
            let words: Vec<&str> = ["command", "args"]
                .iter()
                .flat_map(|k| items(c.get(k)))
                .filter_map(|n| match &n.value {
                    Value::Str(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect();
            for (flag, proto) in [
                ("--tcp-services-configmap", "TCP"),
                ("--udp-services-configmap", "UDP"),
            ] {
                for (i, w) in words.iter().enumerate() {
                    let value = match w.strip_prefix(flag) {
                        Some(rest) if rest.starts_with('=') => Some(&rest[1..]),
                        Some("") => words.get(i + 1).copied(),
                        _ => None,
                    };
                    let Some(value) = value else { continue };
                    let value = value.replace("$(POD_NAMESPACE)", namespace);
                    let (ns, name) = match value.split_once('/') {
                        Some((ns, name)) => (ns.to_string(), name.to_string()),
                        None => (namespace.to_string(), value.clone()),
                    };
                    self.refs.push(PortMapRef {
                        protocol: proto,
                        namespace: ns,
                        name,
                        reader: what(),
                    });
                }
            }
        }
    }
}

/// `namespace/name`, or `name` for an object without a namespace.
fn qualified(m: &Manifest) -> String {
    match &m.id.namespace {
        Some(ns) => format!("{ns}/{}", m.id.name),
        None => m.id.name.clone(),
    }
}

/// The pod spec of a Pod or of a workload's pod template.
fn pod_spec<'a>(doc: &'a Node, kind: &str) -> Option<&'a Node> {
    let spec = doc.get("spec")?;
    match kind {
        "Pod" => Some(spec),
        "CronJob" => spec
            .get("jobTemplate")?
            .get("spec")?
            .get("template")?
            .get("spec"),
        _ => spec.get("template")?.get("spec"),
    }
}

fn items(node: Option<&Node>) -> impl Iterator<Item = &Node> {
    let list: &[Node] = match node.map(|n| &n.value) {
        Some(Value::Seq(items)) => items,
        _ => &[],
    };
    list.iter()
}

fn int(node: Option<&Node>) -> Option<i64> {
    match node.map(|n| &n.value) {
        Some(Value::Int(i)) => Some(*i),
        _ => None,
    }
}

fn protocol(port: &Node) -> String {
    port.get_str("protocol").unwrap_or("TCP").to_string()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::manifest::{Origin, ResourceId};
    use crate::yaml::{Dialect, parse_stream_unlocated};

    fn manifests(text: &str) -> Vec<Manifest> {
        let origin = Arc::new(Origin {
            template: "t".into(),
            template_shown: "templates/t".into(),
            env: "dev".into(),
            instance: "_env".into(),
        });
        parse_stream_unlocated(text, Dialect::Kube)
            .unwrap()
            .into_iter()
            .map(|doc| Manifest {
                id: ResourceId::of(&doc).unwrap(),
                doc,
                origin: Arc::clone(&origin),
            })
            .collect()
    }

    fn ports(text: &str) -> Vec<(String, i64)> {
        let all = manifests(text);
        // Split over two "files": the controller and its ConfigMaps may come from different ones.
        let (first, rest) = all.split_at(1);
        let mut p = Ports::of(first);
        p.extend(Ports::of(rest));
        p.resolve()
            .into_iter()
            .map(|c| (c.protocol, c.port))
            .collect()
    }

    #[test]
    fn node_ports_host_ports_and_host_network_ports() {
        let text = "\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: dev}
spec: {type: NodePort, ports: [{port: 80, nodePort: 30080}, {port: 53, protocol: UDP}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: dev}
spec:
  template:
    spec:
      containers: [{name: a, ports: [{containerPort: 8080}, {containerPort: 9100, hostPort: 9100}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: dns, namespace: dev}
spec:
  template:
    spec:
      hostNetwork: true
      containers: [{name: a, ports: [{containerPort: 10254}]}]
";
        assert_eq!(
            ports(text),
            [
                ("TCP".to_string(), 30080),
                ("TCP".to_string(), 9100),
                ("TCP".to_string(), 10254)
            ]
        );
    }

    #[test]
    fn a_host_network_controller_claims_the_ports_of_its_configmaps() {
        let text = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: udp-services, namespace: nginx}
data: {\"53\": kube-system/kube-dns:53}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: tcp-services, namespace: nginx}
data: {\"5432\": db/pg:5432}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ctl, namespace: nginx}
spec:
  template:
    spec:
      hostNetwork: true
      containers:
      - name: c
        args: [--udp-services-configmap=$(POD_NAMESPACE)/udp-services, --tcp-services-configmap, nginx/tcp-services]
";
        assert_eq!(
            ports(text),
            [("TCP".to_string(), 5432), ("UDP".to_string(), 53)]
        );
        // Without hostNetwork the controller binds nothing on the node.
        assert!(ports(&text.replace("hostNetwork: true", "hostNetwork: false")).is_empty());
    }
}
