//! JSON label files (OFAC arrays, Etherscan and Tornado Cash objects) with the line each item
//! is written on, so a bad item can be reported where it is.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::{malformed, LabelError};

/// A JSON object's members in file order (serde_json's own map sorts its keys).
pub struct Members<V>(pub Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Members<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct InOrder<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for InOrder<V> {
            type Value = Members<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<V>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(member) = map.next_entry()? {
                    out.push(member);
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(InOrder(PhantomData))
    }
}

/// Parses the whole file as `T`; `what` names the expected shape in the error, which carries
/// the line serde_json stopped on (the last line for a truncated file).
pub fn parse<T: DeserializeOwned>(text: &str, file: &str, what: &str) -> Result<T, LabelError> {
    serde_json::from_str(text).map_err(|e| malformed(file, e.line(), format!("not {what}: {e}")))
}

/// The members of a JSON object, each with the 1-based line its key is written on.
pub fn members<V: DeserializeOwned>(
    text: &str,
    file: &str,
    what: &str,
) -> Result<Vec<(usize, String, V)>, LabelError> {
    let Members(members) = parse::<Members<V>>(text, file, what)?;
    let lines = lines_of(text, members.iter().map(|(k, _)| k.as_str()));
    Ok(lines
        .into_iter()
        .zip(members)
        .map(|(line, (k, v))| (line, k, v))
        .collect())
}

/// The strings of a JSON array, each with the 1-based line it is written on.
pub fn string_items(
    text: &str,
    file: &str,
    what: &str,
) -> Result<Vec<(usize, String)>, LabelError> {
    let items: Vec<String> = parse(text, file, what)?;
    let lines = lines_of(text, items.iter().map(String::as_str));
    Ok(lines.into_iter().zip(items).collect())
}

/// What a JSON label file is, told from its first member so that a truncated file is still
/// recognised (and then reported where it breaks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Array,
    /// An object whose first value is a string.
    ObjectOfStrings,
    /// An object whose first value is an object.
    ObjectOfObjects,
}

/// The shape of a JSON text, or `None` when it starts as neither.
pub fn shape(text: &str) -> Option<Shape> {
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with('[') {
        return Some(Shape::Array);
    }
    let key = text.strip_prefix('{')?.trim_start().strip_prefix('"')?;
    let after_key = &key[string_end(key)? + 1..];
    let value = after_key.trim_start().strip_prefix(':')?.trim_start();
    match value.chars().next()? {
        '"' => Some(Shape::ObjectOfStrings),
        '{' => Some(Shape::ObjectOfObjects),
        _ => None,
    }
}

/// The byte index of the quote that closes a JSON string whose opening quote is just before
/// `s`.
fn string_end(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// The 1-based line of each string, as a quoted JSON string, in the text. serde_json keeps no
/// positions, so each one is searched for after the previous one: the strings are keys or items
/// in file order, so the n-th is the first match after the (n-1)-th. One written with other
/// escapes than serde_json's is given the line of the previous one.
fn lines_of<'a>(text: &str, strings: impl Iterator<Item = &'a str>) -> Vec<usize> {
    let mut offset = 0;
    let mut line = 1;
    strings
        .map(|s| {
            let quoted = serde_json::Value::from(s).to_string();
            let found = text[offset..].find(&quoted).map_or(offset, |i| offset + i);
            line += text[offset..found].matches('\n').count();
            offset = found;
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_keep_file_order_and_lines() {
        let text = "{\n \"b\": \"x\",\n\n \"a\": \"y\", \"c\": \"a\"\n}";
        let m: Vec<(usize, String, String)> = members(text, "f.json", "an object").unwrap();
        let got: Vec<(usize, &str)> = m.iter().map(|(l, k, _)| (*l, k.as_str())).collect();
        assert_eq!(got, [(2, "b"), (4, "a"), (4, "c")]);
    }

    #[test]
    fn shapes_are_told_from_the_first_member() {
        assert_eq!(shape(" [\"1abc\""), Some(Shape::Array));
        assert_eq!(
            shape("{\n  \"0xab\": \"1 ETH\", \"0x"),
            Some(Shape::ObjectOfStrings)
        );
        assert_eq!(
            shape("\u{feff}{\"a\\\"b\" : {\"name"),
            Some(Shape::ObjectOfObjects)
        );
        assert_eq!(shape("{\"a\": 1}"), None);
        assert_eq!(shape("{\"a"), None);
        assert_eq!(shape("{}"), None);
        assert_eq!(shape(""), None);
    }

    #[test]
    fn a_truncated_file_names_its_last_line() {
        let err = members::<String>("{\n \"a\": \"x\",\n \"b\": \"y", "f.json", "an object");
        match err {
            Err(LabelError::Malformed { path, line, reason }) => {
                assert_eq!((path.as_str(), line), ("f.json", 3));
                assert!(reason.starts_with("not an object: EOF"), "{reason}");
            }
            other => panic!("expected a malformed-file error, got {other:?}"),
        }
    }
}
