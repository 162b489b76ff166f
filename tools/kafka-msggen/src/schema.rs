//! Kafka's JSON message schemas (`common/message/*.json`, JSON with `//` comments) read
//! into a small model: versions, fields, types, nested and common structs.

use serde_json::Value;

/// A version range; `min > max` is "none". `max` is `i16::MAX` for "N+".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    /// Lowest version.
    pub min: i16,
    /// Highest version.
    pub max: i16,
}

impl Versions {
    /// No version.
    pub const NONE: Versions = Versions { min: 1, max: 0 };

    /// Parses "N+", "N-M", "N" or "none".
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let num = |t: &str| t.parse::<i16>().map_err(|e| format!("version {t:?}: {e}"));
        if s == "none" {
            Ok(Self::NONE)
        } else if let Some(min) = s.strip_suffix('+') {
            Ok(Self {
                min: num(min)?,
                max: i16::MAX,
            })
        } else if let Some((a, b)) = s.split_once('-') {
            Ok(Self {
                min: num(a)?,
                max: num(b)?,
            })
        } else {
            let v = num(s)?;
            Ok(Self { min: v, max: v })
        }
    }

    /// Whether no version is in the range.
    pub fn is_empty(self) -> bool {
        self.min > self.max
    }

    /// The versions in both.
    pub fn intersect(self, other: Versions) -> Versions {
        Versions {
            min: self.min.max(other.min),
            max: self.max.min(other.max),
        }
    }

    /// As written in the schema.
    pub fn describe(self) -> String {
        if self.is_empty() {
            "none".into()
        } else if self.max == i16::MAX {
            format!("{}+", self.min)
        } else if self.min == self.max {
            format!("{}", self.min)
        } else {
            format!("{}-{}", self.min, self.max)
        }
    }
}

/// A field's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    /// `bool`
    Bool,
    /// `int8`
    Int8,
    /// `int16`
    Int16,
    /// `uint16`
    Uint16,
    /// `int32`
    Int32,
    /// `uint32`
    Uint32,
    /// `int64`
    Int64,
    /// `float64`
    Float64,
    /// `string`
    String,
    /// `bytes`
    Bytes,
    /// `records`
    Records,
    /// `uuid`
    Uuid,
    /// `[]T`
    Array(Box<Type>),
    /// A struct, by name.
    Struct(String),
}

impl Type {
    fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "bool" => Type::Bool,
            "int8" => Type::Int8,
            "int16" => Type::Int16,
            "uint16" => Type::Uint16,
            "int32" => Type::Int32,
            "uint32" => Type::Uint32,
            "int64" => Type::Int64,
            "float64" => Type::Float64,
            "string" => Type::String,
            "bytes" => Type::Bytes,
            "records" => Type::Records,
            "uuid" => Type::Uuid,
            _ => {
                if let Some(elem) = s.strip_prefix("[]") {
                    Type::Array(Box::new(Type::parse(elem)?))
                } else if s.starts_with(|c: char| c.is_ascii_uppercase()) {
                    Type::Struct(s.to_string())
                } else {
                    return Err(format!("unknown type {s:?}"));
                }
            }
        })
    }
}

/// One field.
#[derive(Debug, Clone)]
pub struct Field {
    /// CamelCase name.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Versions it is in.
    pub versions: Versions,
    /// Versions it may be null in.
    pub nullable: Versions,
    /// `(tag, versions)` when it is a tagged field.
    pub tagged: Option<(u32, Versions)>,
    /// The schema's `default`, if any.
    pub default: Option<String>,
    /// The schema's `about`.
    pub about: String,
    /// Whether it may be dropped silently in versions that lack it.
    pub ignorable: bool,
}

/// A struct: the message itself, a nested struct or a common struct.
#[derive(Debug, Clone)]
pub struct Struct {
    /// Rust type name.
    pub name: String,
    /// What it is (the field's `about`).
    pub about: String,
    /// Its fields.
    pub fields: Vec<Field>,
}

/// A request or response schema.
#[derive(Debug, Clone)]
pub struct Message {
    /// e.g. `ShareFetchRequest`.
    pub name: String,
    /// The API key.
    pub api_key: i16,
    /// Whether this is a request (else a response).
    pub request: bool,
    /// `validVersions`.
    pub valid: Versions,
    /// `flexibleVersions`.
    pub flexible: Versions,
    /// Every struct: the message first, then nested and common structs in schema order.
    pub structs: Vec<Struct>,
}

/// Removes `//` comments outside strings.
pub fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if c == '/' && chars.peek() == Some(&'/') {
            for n in chars.by_ref() {
                if n == '\n' {
                    out.push('\n');
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses one schema file; `None` for files that are not requests or responses.
pub fn parse(text: &str) -> Result<Option<Message>, String> {
    let v: Value = serde_json::from_str(&strip_comments(text)).map_err(|e| e.to_string())?;
    let kind = str_of(&v, "type")?;
    if kind != "request" && kind != "response" {
        return Ok(None);
    }
    let name = str_of(&v, "name")?.to_string();
    let api_key = v["apiKey"].as_i64().ok_or("no apiKey")? as i16;
    let valid = Versions::parse(str_of(&v, "validVersions")?)?;
    let flexible = Versions::parse(str_of(&v, "flexibleVersions")?)?;
    let mut structs = vec![Struct {
        name: name.clone(),
        about: format!("{name} (API key {api_key})."),
        fields: Vec::new(),
    }];
    let fields = fields_of(&v, &mut structs)?;
    structs[0].fields = fields;
    if let Some(common) = v["commonStructs"].as_array() {
        for c in common {
            let cname = str_of(c, "name")?.to_string();
            let idx = structs.len();
            structs.push(Struct {
                name: cname.clone(),
                about: format!("The common struct {cname}."),
                fields: Vec::new(),
            });
            let fields = fields_of(c, &mut structs)?;
            structs[idx].fields = fields;
        }
    }
    let mut names: Vec<&str> = structs.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("{name}: struct {} defined twice", w[0]));
    }
    Ok(Some(Message {
        name,
        api_key,
        request: kind == "request",
        valid,
        flexible,
        structs,
    }))
}

fn str_of<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v[key].as_str().ok_or_else(|| format!("no {key:?}"))
}

fn fields_of(v: &Value, structs: &mut Vec<Struct>) -> Result<Vec<Field>, String> {
    let mut out = Vec::new();
    for f in v["fields"].as_array().ok_or("no fields")? {
        let name = str_of(f, "name")?.to_string();
        let ty = Type::parse(str_of(f, "type")?)?;
        let about = f["about"].as_str().unwrap_or("").to_string();
        if f.get("fields").is_some() {
            let sname = match &ty {
                Type::Struct(s) => s.clone(),
                Type::Array(e) => match &**e {
                    Type::Struct(s) => s.clone(),
                    _ => return Err(format!("{name}: fields on a non-struct array")),
                },
                _ => return Err(format!("{name}: fields on a non-struct")),
            };
            let idx = structs.len();
            structs.push(Struct {
                name: sname,
                about: about.clone(),
                fields: Vec::new(),
            });
            let fields = fields_of(f, structs)?;
            structs[idx].fields = fields;
        }
        if f.get("flexibleVersions").is_some() {
            return Err(format!(
                "{name}: per-field flexibleVersions are not supported"
            ));
        }
        let versions = Versions::parse(str_of(f, "versions")?)?;
        let nullable = match f["nullableVersions"].as_str() {
            Some(s) => Versions::parse(s)?,
            None => Versions::NONE,
        };
        let tagged = match f["taggedVersions"].as_str() {
            Some(s) => {
                let tag = f["tag"].as_u64().ok_or_else(|| format!("{name}: no tag"))?;
                Some((tag as u32, Versions::parse(s)?))
            }
            None => None,
        };
        let default = match &f["default"] {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        };
        let ignorable = f["ignorable"].as_bool().unwrap_or(false);
        out.push(Field {
            name,
            ty,
            versions,
            nullable,
            tagged,
            default,
            about,
            ignorable,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_every_form() {
        assert_eq!(
            Versions::parse("3+").unwrap(),
            Versions {
                min: 3,
                max: i16::MAX
            }
        );
        assert_eq!(Versions::parse("1-2").unwrap(), Versions { min: 1, max: 2 });
        assert_eq!(Versions::parse("0").unwrap(), Versions { min: 0, max: 0 });
        assert!(Versions::parse("none").unwrap().is_empty());
        assert!(Versions::parse("x+").is_err());
        assert_eq!(Versions::parse("2+").unwrap().describe(), "2+");
    }

    #[test]
    fn comments_are_stripped_outside_strings_only() {
        let text = "{ // note\n \"about\": \"see http://x // y\" }";
        let v: Value = serde_json::from_str(&strip_comments(text)).unwrap();
        assert_eq!(v["about"], "see http://x // y");
    }

    #[test]
    fn parses_nested_structs_and_rejects_duplicates() {
        let schema = r#"{ "apiKey": 1, "type": "response", "name": "XResponse",
            "validVersions": "0-1", "flexibleVersions": "1+",
            "fields": [
              { "name": "Items", "type": "[]Item", "versions": "0+", "fields": [
                { "name": "Id", "type": "int32", "versions": "0+" } ]},
              { "name": "Note", "type": "string", "versions": "1+", "nullableVersions": "1+",
                "default": "null", "taggedVersions": "1+", "tag": 0 } ]}"#;
        let msg = parse(schema).unwrap().unwrap();
        assert_eq!(msg.structs.len(), 2);
        assert_eq!(msg.structs[1].name, "Item");
        let note = &msg.structs[0].fields[1];
        assert_eq!(note.tagged.map(|t| t.0), Some(0));
        assert_eq!(note.default.as_deref(), Some("null"));
        let twice = schema.replace(
            "\"Note\", \"type\": \"string\"",
            "\"Note\", \"type\": \"Item\", \"fields\": []",
        );
        assert!(parse(&twice).unwrap_err().contains("defined twice"));
        assert!(
            parse(r#"{ "type": "data", "name": "X" }"#)
                .unwrap()
                .is_none()
        );
    }
}
