//! How large a value a template may print, hash or serialize.
//!
//! minijinja's fuel charges instructions and the bytes operators create, but a structure that
//! shares its parts (`{% set x = [x, x] %}` in a loop) is cheap to build and exponential to walk:
//! printing or hashing it would run for minutes. Every place that walks a whole value (the
//! YAML-safe formatter, `sha256`, `toyaml`) first measures it here, stopping as soon
//! as the budget is spent, so such a template ends within a second with an error at its
//! expression.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

/// The most bytes (of strings, plus a few per number and container item) one printed, hashed or
/// serialized value may hold: far beyond any real manifest, small enough to stop in milliseconds.
pub const VALUE_BUDGET: usize = 16 << 20;

/// The most strings, numbers and containers one such value may hold.
pub const ITEM_BUDGET: usize = 1 << 18;

/// What measuring a value found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Measure {
    /// Some string holds a character YAML cannot carry literally (C1 controls, U+FFFE...).
    pub unprintable: bool,
}

/// Measure `value`, failing as soon as it is larger than [`VALUE_BUDGET`].
pub fn measure(value: &Value, what: &str) -> Result<Measure, Error> {
    let mut m = Measure::default();
    // Approximate serialized size.
    let mut bytes = 0usize;
    let mut stack = vec![value.clone()];
    let mut items = 0usize;
    while let Some(v) = stack.pop() {
        items += 1;
        if bytes > VALUE_BUDGET || items > ITEM_BUDGET {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "{what} is larger than {} MiB or {} items (a structure that doubles in a loop?)",
                    VALUE_BUDGET >> 20,
                    ITEM_BUDGET
                ),
            ));
        }
        match v.kind() {
            ValueKind::String => {
                let s = v.as_str().unwrap_or_default();
                bytes += s.len() + 2;
                m.unprintable |= s.chars().any(crate::yaml::needs_escape);
            }
            ValueKind::Seq | ValueKind::Iterable => {
                bytes += 2;
                for item in v.try_iter()? {
                    bytes += 1;
                    stack.push(item);
                    if bytes > VALUE_BUDGET || stack.len() > ITEM_BUDGET {
                        break;
                    }
                }
            }
            ValueKind::Map => {
                bytes += 2;
                for key in v.try_iter()? {
                    bytes += 2;
                    let item = v.get_item(&key)?;
                    stack.push(key);
                    stack.push(item);
                    if bytes > VALUE_BUDGET || stack.len() > ITEM_BUDGET {
                        break;
                    }
                }
            }
            _ => bytes += 8,
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_structures_are_stopped_early() {
        let mut v = Value::from("x".repeat(64));
        for _ in 0..40 {
            v = Value::from(vec![v.clone(), v]);
        }
        let start = std::time::Instant::now();
        let err = measure(&v, "the value").unwrap_err();
        assert!(err.to_string().contains("larger than 16 MiB"), "{err}");
        assert!(start.elapsed().as_secs() < 2);
        let ok = measure(&Value::from("a\u{85}b"), "v").unwrap();
        assert!(ok.unprintable);
        assert!(!measure(&Value::from("日本"), "v").unwrap().unprintable);
    }
}
