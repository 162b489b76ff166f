//! `--command-config <file>`: client properties in Java's `.properties` format (what the
//! Java tools' `--command-config` takes: `security.protocol`, `sasl.*`, `ssl.*`, ...),
//! applied to the client. Unknown keys are an error naming them; values are never
//! echoed (they may be passwords).

use std::path::Path;

use kafka_client::ClientBuilder;
use kafka_client::config::Properties;

use crate::exit::Failure;

/// Applies the properties in `path` to `builder`.
pub fn apply(builder: ClientBuilder, path: &Path) -> Result<ClientBuilder, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("--command-config {}: {e}", path.display())))?;
    let mut props = parse(&text)
        .map_err(|e| Failure::Usage(format!("--command-config {}: {e}", path.display())))?;
    let builder = builder
        .apply_properties(&mut props)
        .map_err(|e| Failure::Usage(format!("--command-config {}: {e}", path.display())))?;
    props
        .reject_unknown()
        .map_err(|e| Failure::Usage(format!("--command-config {}: {e}", path.display())))?;
    Ok(builder)
}

/// Java `.properties` text: `key=value` or `key: value` lines, `#`/`!` comments, a
/// trailing backslash continues the line, `\\`, `\n`, `\t`, `\=`, `\:` escapes.
fn parse(text: &str) -> Result<Properties, String> {
    let mut props = Properties::new();
    let mut logical = String::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        // An odd number of trailing backslashes continues the line.
        let trailing = line.chars().rev().take_while(|c| *c == '\\').count();
        if trailing % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            continue;
        }
        logical.push_str(line);
        let entry = std::mem::take(&mut logical);
        let (key, value) =
            split_entry(&entry).ok_or_else(|| format!("line {}: expected key=value", n + 1))?;
        props = props.set(key, value);
    }
    if !logical.is_empty() {
        return Err("the last line ends with a continuation backslash".into());
    }
    Ok(props)
}

/// Splits at the first unescaped `=`, `:` or whitespace; unescapes both sides.
fn split_entry(entry: &str) -> Option<(String, String)> {
    let mut key = String::new();
    let mut chars = entry.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => key.push(unescape(chars.next()?)),
            '=' | ':' => break,
            c if c.is_whitespace() => {
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
                chars.next_if(|c| *c == '=' || *c == ':');
                break;
            }
            c => key.push(c),
        }
    }
    while chars.next_if(|c| c.is_whitespace()).is_some() {}
    let mut value = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => value.push(unescape(chars.next()?)),
            c => value.push(c),
        }
    }
    (!key.is_empty()).then_some((key, value))
}

fn unescape(c: char) -> char {
    match c {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_properties_parse() {
        let mut p = parse(
            "# comment\n! also\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism : SCRAM-SHA-512\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \\\n  \
             required username=\"a\" password=\"b=c\";\nkey\\:x  spaced value\n",
        )
        .unwrap();
        assert_eq!(
            p.take("security.protocol").as_deref(),
            Some("SASL_PLAINTEXT")
        );
        assert_eq!(p.take("sasl.mechanism").as_deref(), Some("SCRAM-SHA-512"));
        assert_eq!(
            p.take("sasl.jaas.config").as_deref(),
            Some(
                "org.apache.kafka.common.security.scram.ScramLoginModule required \
                 username=\"a\" password=\"b=c\";"
            )
        );
        assert_eq!(p.take("key:x").as_deref(), Some("spaced value"));
        assert!(parse("a=b\\").is_err());
    }
}
