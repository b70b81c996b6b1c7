#!/usr/bin/env python3
"""Write one multi-document file of N Deployments + N Services + N ConfigMaps (default 2000
each, 6000 documents): the `kiln lint` benchmark input. Usage: bench/manifests.py FILE [N]"""
import sys

def main():
    path, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    with open(path, "w") as f:
        for i in range(n):
            name = f"svc-{i:04d}"
            f.write(f"""---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: bench
  labels: {{app: {name}, app.kubernetes.io/name: {name}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}, app.kubernetes.io/name: {name}}}
    spec:
      containers:
      - name: app
        image: registry.example.com/{name}:1.{i % 10}.0
        ports:
        - {{name: http, containerPort: 8080}}
        env:
        - {{name: JAVA_OPTS, value: "-Xmx512m"}}
        - name: POD_IP
          valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}
        resources:
          requests: {{cpu: 100m, memory: 256Mi}}
          limits: {{cpu: "1", memory: 1Gi}}
        readinessProbe:
          httpGet: {{path: /actuator/health, port: http}}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: bench
spec:
  selector: {{app: {name}}}
  ports:
  - {{name: http, port: 80, targetPort: http}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-config
  namespace: bench
data:
  application.yml: |
    server:
      port: 8080
    spring:
      application:
        name: {name}
""")

if __name__ == "__main__":
    main()
