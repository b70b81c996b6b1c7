//! The filters and functions templates get beyond minijinja's built-ins: what a Helm user
//! misses on day one. `indent`/`nindent` are not among them on purpose: output is re-emitted as
//! normalised YAML, so templates never manage indentation.

use std::fmt::Write as _;

use base64::Engine as _;
use minijinja::value::{Kwargs, Rest, Value as JValue, ValueKind};
use minijinja::{Environment, Error, ErrorKind};
use sha2::Digest as _;

/// Register kiln's filters and functions on `env`.
pub fn register(env: &mut Environment<'_>) {
    env.add_filter("toyaml", toyaml);
    env.add_filter("fromyaml", fromyaml);
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("sha256", sha256);
    env.add_filter("required", required);
    env.add_filter("trunc", trunc);
    env.add_filter("dns_label", dns_label);
    env.add_filter("merge", merge);
    env.add_function("fail", fail);
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Marks an error a template raised on purpose (`fail`, `required`): its message is the
/// template author's words, shown as they are, and `at` (a values path such as
/// `teams[0].access`) names the value to blame, so the error points at the values line.
#[derive(Debug)]
pub struct Raised {
    /// The values path the template blames.
    pub at: Option<String>,
}

impl std::fmt::Display for Raised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("raised by the template")
    }
}

impl std::error::Error for Raised {}

fn raised(msg: impl Into<String>, at: Option<String>) -> Error {
    invalid(msg).with_source(Raised { at })
}

fn at_of(kwargs: &Kwargs) -> Result<Option<String>, Error> {
    let at: Option<String> = kwargs.get("at")?;
    kwargs.assert_all_used()?;
    Ok(at)
}

/// `{{ values.config | toyaml }}`: block YAML text of a value (for a `ConfigMap` file).
fn toyaml(value: &JValue) -> Result<String, Error> {
    if value.is_undefined() {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    super::budget::measure(value, "the value given to `toyaml`")?;
    crate::yaml::emit(value).map_err(|e| invalid(format!("cannot write value as YAML: {e}")))
}

/// `{{ text | fromyaml }}`: parse YAML text into a value.
fn fromyaml(text: &str) -> Result<JValue, Error> {
    let node = crate::yaml::parse(text, 0, crate::yaml::Dialect::Values)
        .map_err(|e| invalid(format!("fromyaml: line {}: {}", e.line, e.message)))?;
    Ok(JValue::from(minijinja::value::Serde(&node)))
}

fn b64encode(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn b64decode(text: &str) -> Result<String, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| invalid(format!("b64decode: {e}")))?;
    String::from_utf8(bytes).map_err(|_| invalid("b64decode: the decoded bytes are not UTF-8 text"))
}

/// Hex SHA-256 of a string, or of any other value's canonical JSON (for checksum annotations).
fn sha256(value: &JValue) -> Result<String, Error> {
    super::budget::measure(value, "the value given to `sha256`")?;
    let text = if let Some(s) = value.as_str() {
        s.to_string()
    } else {
        serde_json::to_string(value).map_err(|e| invalid(format!("sha256: {e}")))?
    };
    let mut hex = String::with_capacity(64);
    for b in sha2::Sha256::digest(text.as_bytes()) {
        let _ = write!(hex, "{b:02x}");
    }
    Ok(hex)
}

/// `{{ values.image.tag | required("set image.tag for every service", at="image.tag") }}`.
#[allow(
    clippy::needless_pass_by_value,
    reason = "minijinja passes keyword arguments as Kwargs by value"
)]
fn required(value: &JValue, message: Option<&str>, kwargs: Kwargs) -> Result<JValue, Error> {
    let at = at_of(&kwargs)?;
    if value.is_undefined() || value.is_none() || value.as_str() == Some("") {
        return Err(raised(
            message.unwrap_or("a required value is missing").to_string(),
            at,
        ));
    }
    Ok(value.clone())
}

/// `{{ name | trunc(63) }}`: at most `n` characters, without a trailing `-`.
fn trunc(text: &str, n: usize) -> String {
    text.chars()
        .take(n)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// Lowercase, invalid characters to `-`, at most 63 characters: a valid DNS-1123 label.
fn dns_label(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    trunc(mapped.trim_matches('-'), 63)
}

/// `{{ a | merge(b, c) }}`: maps deep-merged left to right (later wins), as values layers are.
#[allow(
    clippy::needless_pass_by_value,
    reason = "minijinja passes variadic arguments as Rest by value"
)]
fn merge(base: &JValue, rest: Rest<JValue>) -> Result<JValue, Error> {
    let mut acc = base.clone();
    for over in rest.iter() {
        acc = merge_two(&acc, over)?;
    }
    Ok(acc)
}

fn merge_two(base: &JValue, over: &JValue) -> Result<JValue, Error> {
    if base.kind() != ValueKind::Map || over.kind() != ValueKind::Map {
        return Ok(if over.is_undefined() {
            base.clone()
        } else {
            over.clone()
        });
    }
    let mut out: indexmap::IndexMap<JValue, JValue> = indexmap::IndexMap::new();
    for key in base.try_iter()? {
        let v = base.get_item(&key)?;
        out.insert(key, v);
    }
    for key in over.try_iter()? {
        let v = over.get_item(&key)?;
        let merged = match out.get(&key) {
            Some(existing) => merge_two(existing, &v)?,
            None => v,
        };
        out.insert(key, merged);
    }
    Ok(JValue::from_pairs(out))
}

/// `{{ fail("message", at="teams[0].access") }}`: stop rendering with a message, blaming the
/// value at `at` when given.
#[allow(
    clippy::needless_pass_by_value,
    reason = "minijinja passes keyword arguments as Kwargs by value"
)]
fn fail(message: &str, kwargs: Kwargs) -> Result<JValue, Error> {
    Err(raised(message.to_string(), at_of(&kwargs)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_behave() {
        assert_eq!(b64encode("admin"), "YWRtaW4=");
        assert_eq!(b64decode("YWRtaW4=").unwrap(), "admin");
        assert_eq!(
            sha256(&JValue::from("abc")).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(trunc("abc-def", 4), "abc");
        assert_eq!(dns_label("Order_Service.V2"), "order-service-v2");
        assert!(
            required(
                &JValue::UNDEFINED,
                Some("need x"),
                std::iter::empty::<(&str, JValue)>().collect::<Kwargs>()
            )
            .unwrap_err()
            .to_string()
            .contains("need x")
        );
        assert_eq!(
            toyaml(&JValue::from(minijinja::value::Serde(
                serde_json::json!({"a": ["on", 1]})
            )))
            .unwrap(),
            "a:\n- \"on\"\n- 1\n"
        );
    }
}
