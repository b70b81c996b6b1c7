#!/usr/bin/env python3
"""Generate a kiln project with N services x 4 environments, for benchmarks.

Usage: bench/fleet.py DIR N

Every service uses the built-in spring-boot set with the filebeat sidecar and a Eureka client,
an environment file per environment and a per-environment override for every tenth service,
like the bundled example fleet but larger.
"""
import os
import sys

def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)

def main():
    root, n = sys.argv[1], int(sys.argv[2])
    envs = ["dev", "test", "stage", "prod"]
    write(f"{root}/kiln.yaml", "environments:\n" + "".join(
        f"  {e}:\n    namespace: {e}\n    kubeVersion: \"1.35\"\n" for e in envs))
    write(f"{root}/values/defaults.yaml", """template: spring-boot
partOf: fleet
eureka:
  client:
    enabled: true
logging:
  filebeat:
    enabled: true
teams:
  - {name: platform, group: "fleet:platform", access: admin, envs: [dev, test, stage, prod]}
""")
    for i, e in enumerate(envs):
        write(f"{root}/values/envs/{e}.yaml", f"""replicas: {i + 1}
logging:
  filebeat:
    kafka:
      hosts: ["kafka-0.kafka.{e}:9092", "kafka-1.kafka.{e}:9092"]
""")
    write(f"{root}/values/services/eureka.yaml", """template: eureka-server
image: {repository: registry.example.com/eureka-server, tag: "1.3.0"}
""")
    for s in range(n):
        name = f"svc-{s:04d}"
        write(f"{root}/values/services/{name}.yaml", f"""image:
  repository: registry.example.com/fleet/{name}
  tag: "1.{s % 7}.{s % 13}"
port: {8000 + s % 1000}
env:
  SPRING_DATASOURCE_URL: "jdbc:mysql://mysql.infra:3306/{name.replace('-', '_')}"
  FEATURE_FLAGS: "a,b,c"
ingress:
  enabled: {"true" if s % 5 == 0 else "false"}
  host: {name}.example.com
""")
        if s % 10 == 0:
            write(f"{root}/values/services/{name}.prod.yaml", "replicas: 6\n")

if __name__ == "__main__":
    main()
