//! `kiln set`: one value written into a values file. Only the changed line differs (checked
//! line by line, and by `git diff --numstat` where git is there), `kiln values --origin` points at
//! it, bad keys and paths are located errors, and nothing is written on error.

use std::path::Path;

use crate::support::{Output, kiln_in, on_path, project, write};

const KILN_YAML: &str = "\
environments:
  dev: {namespace: dev, kubeVersion: \"1.35\"}
  prod: {namespace: prod, kubeVersion: \"1.35\"}
";

const CM: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ service.name }}
  namespace: {{ env.namespace }}
data:
  tag: {{ values.image.tag }}
";

/// A values file with comments (Chinese too), a flow mapping, quotes and odd spacing.
const API: &str = "\
# 订单服务 order service
image:   {repository: 'reg.example.com/shop/api', tag: \"1.4.2\"}   # 镜像
replicas:    2    # 副本数
labels:
    team:  支付   # 团队
    tier: 'backend'
env:
    JAVA_OPTS: -Xmx512m
# 结束
";

fn fleet() -> tempfile::TempDir {
    project(&[
        ("kiln.yaml", KILN_YAML),
        ("templates/web/cm.yaml.j2", CM),
        (
            "values/defaults.yaml",
            "template: web\nimage: {tag: latest}\n",
        ),
        ("values/services/api.yaml", API),
        ("values/services/db.yaml", "{}\n"),
    ])
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap()
}

/// The lines that differ between two texts of the same length in lines, with their numbers.
fn changed_lines(old: &str, new: &str) -> Vec<(usize, String, String)> {
    assert_eq!(
        old.split_inclusive('\n').count(),
        new.split_inclusive('\n').count(),
        "line count changed:\n{new}"
    );
    old.split_inclusive('\n')
        .zip(new.split_inclusive('\n'))
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, (a, b))| (i + 1, a.to_string(), b.to_string()))
        .collect()
}

/// No temporary file of kiln set is left beside the values files.
fn no_leftovers(dir: &Path) {
    for entry in walkdir::WalkDir::new(dir.join("values")) {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with(".kiln-set"), "left behind: {name}");
    }
}

fn ok(out: &Output) {
    assert_eq!(out.0, 0, "{}", out.2);
}

#[test]
fn changing_a_value_changes_exactly_its_line() {
    let dir = fleet();
    let p = dir.path();
    let git = on_path("git").ok();
    if let Some(git) = &git {
        for args in [
            &["init", "-q"][..],
            &["add", "-A"],
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-qm",
                "x",
            ],
        ] {
            let s = std::process::Command::new(git)
                .args(args)
                .current_dir(p)
                .output()
                .unwrap();
            assert!(s.status.success(), "{s:?}");
        }
    }
    let out = kiln_in(p, &["set", "api", "image.tag=1.4.3"]);
    ok(&out);
    assert_eq!(out.1, "values/services/api.yaml:2:56: set `image.tag`\n");
    let new = read(p, "values/services/api.yaml");
    assert_eq!(
        changed_lines(API, &new),
        [(
            2,
            "image:   {repository: 'reg.example.com/shop/api', tag: \"1.4.2\"}   # 镜像\n".into(),
            "image:   {repository: 'reg.example.com/shop/api', tag: \"1.4.3\"}   # 镜像\n".into()
        )]
    );
    if let Some(git) = &git {
        let o = std::process::Command::new(git)
            .args(["diff", "--numstat"])
            .current_dir(p)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "1\t1\tvalues/services/api.yaml\n"
        );
    }
    // `--origin` points at the new value.
    let (code, out, err) = kiln_in(p, &["values", "api", "--env", "dev", "--origin"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("tag: \"1.4.3\" # values/services/api.yaml:2:56"),
        "{out}"
    );
    // Plain, single-quoted and block-indented values keep their style.
    for (assignment, line, want) in [
        ("replicas=3", 3, "replicas:    3    # 副本数\n"),
        ("labels.tier=frontend", 6, "    tier: 'frontend'\n"),
        ("labels.team=风控", 5, "    team:  风控   # 团队\n"),
        (
            "env.JAVA_OPTS=-Xmx1g -Xms1g",
            8,
            "    JAVA_OPTS: \"-Xmx1g -Xms1g\"\n",
        ),
    ] {
        let before = read(p, "values/services/api.yaml");
        ok(&kiln_in(p, &["set", "api", assignment]));
        let after = read(p, "values/services/api.yaml");
        let changed = changed_lines(&before, &after);
        assert_eq!(changed.len(), 1, "{assignment}: {changed:?}");
        assert_eq!((changed[0].0, changed[0].2.as_str()), (line, want));
    }
    no_leftovers(p);
}

#[test]
fn a_new_key_is_added_at_its_mapping_and_on_stays_a_string() {
    let dir = fleet();
    let p = dir.path();
    ok(&kiln_in(p, &["set", "api", "labels.canary=on"]));
    let new = read(p, "values/services/api.yaml");
    assert_eq!(
        new,
        API.replace(
            "    tier: 'backend'\n",
            "    tier: 'backend'\n    canary: \"on\"\n"
        )
    );
    let (code, out, err) = kiln_in(p, &["values", "api", "--env", "dev", "--origin"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("canary: \"on\" # values/services/api.yaml:7:13"),
        "{out}"
    );
    // The environment file is created, and wins in its environment only.
    let (code, out, err) = kiln_in(p, &["set", "api", "image.tag=1.10", "--env", "prod"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "values/services/api.prod.yaml:2:8: set `image.tag` (new file)\n"
    );
    assert_eq!(
        read(p, "values/services/api.prod.yaml"),
        "image:\n  tag: \"1.10\"\n"
    );
    let (code, out, err) = kiln_in(p, &["values", "api", "--env", "prod", "--origin"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("tag: \"1.10\" # values/services/api.prod.yaml:2:8"),
        "{out}"
    );
    // `--string` writes what looks like a number as a string; a number is written as one.
    ok(&kiln_in(p, &["set", "db", "replicas=3"]));
    ok(&kiln_in(p, &["set", "db", "port=8080", "--string"]));
    assert_eq!(
        read(p, "values/services/db.yaml"),
        "replicas: 3\nport: \"8080\"\n"
    );
    no_leftovers(p);
}

#[test]
fn crlf_files_keep_their_line_ends() {
    let dir = fleet();
    let p = dir.path();
    let crlf = API.replace('\n', "\r\n");
    write(p, "values/services/api.yaml", &crlf);
    ok(&kiln_in(p, &["set", "api", "image.tag=2.0.0"]));
    ok(&kiln_in(p, &["set", "api", "labels.zone=hz"]));
    let new = read(p, "values/services/api.yaml");
    assert_eq!(
        new,
        crlf.replace("\"1.4.2\"", "\"2.0.0\"")
            .replace("'backend'\r\n", "'backend'\r\n    zone: hz\r\n")
    );
}

#[test]
fn refusals_are_located_and_write_nothing() {
    let dir = fleet();
    let p = dir.path();
    write(
        p,
        "values/services/api.prod.yaml",
        "# prod\nimage: {tag: 1.0.0}\n",
    );
    write(
        p,
        "values/services/api.sops.yaml",
        "replicas: ENC[AES256_GCM,data:Mw==,iv:x,tag:y,type:int]\nsops: {version: 3.11.0}\n",
    );
    let before: Vec<(String, String)> = ["api.yaml", "api.prod.yaml", "api.sops.yaml", "db.yaml"]
        .iter()
        .map(|f| (f.to_string(), read(p, &format!("values/services/{f}"))))
        .collect();
    let cases: &[(&[&str], &str)] = &[
        (
            &["set", "api", "image.tag.x=1"],
            "values/services/api.yaml:2:56",
        ),
        (&["set", "api", "image=x"], "values/services/api.yaml:2:10"),
        (&["set", "api", "labels..x=1"], "PATH=VALUE:1:8"),
        (&["set", "api", "novalue"], "no `=` after the path"),
        (&["set", "api", "env[0]=x"], "values/services/api.yaml:7:1"),
        (&["set", "api", "db.password=x"], "names a secret"),
        (&["set", "apx", "a=1"], "did you mean `api`?"),
        (
            &["set", "api", "a=1", "--env", "prd"],
            "did you mean `prod`?",
        ),
        // A later layer would still win: which file, and where.
        (
            &["set", "api", "image.tag=2"],
            "values/services/api.prod.yaml:2:9",
        ),
        (
            &["set", "api", "replicas=2"],
            "values/services/api.sops.yaml:1:1",
        ),
        (
            &[
                "set",
                "api",
                "a=1",
                "--file",
                "values/services/api.sops.yaml",
            ],
            "kiln set does not write encrypted files",
        ),
        (
            &["set", "api", "a=1", "--file", "kiln.yaml"],
            "is not a values file of this project",
        ),
    ];
    for (args, want) in cases {
        let (code, out, err) = kiln_in(p, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert!(err.contains(want), "{args:?}: want {want}\n{err}");
        for (f, text) in &before {
            assert_eq!(
                &read(p, &format!("values/services/{f}")),
                text,
                "{args:?} wrote {f}"
            );
        }
        assert!(!p.join("values/services/api.dev.yaml").exists());
    }
    // `--file` writes where it is told, whatever wins afterwards.
    let (code, _, err) = kiln_in(
        p,
        &[
            "set",
            "api",
            "image.tag=2",
            "--file",
            "values/services/api.yaml",
        ],
    );
    assert_eq!(code, 0, "{err}");
    no_leftovers(p);
}
