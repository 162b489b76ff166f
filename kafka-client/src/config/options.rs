//! One table per builder: every option's builder method, Java/librdkafka property name
//! (and aliases), default, meaning, and the function that applies the property to the
//! builder. The `from_properties` adapters are these tables applied in order
//! ([`apply_options`]), and `docs/configuration.md` is generated from the same tables
//! (`options_doc.rs`), so the three cannot drift apart: a property exists in the adapter
//! exactly when it has a row.
//!
//! The tables live beside their builders (`config/client.rs`, `config/security.rs`,
//! `producer/properties.rs`, `consumer/properties.rs`), written with [`option_table!`].

use super::Properties;
use crate::error::Result;

/// Applies one property's value (the key it came under, for errors) to a builder.
pub(crate) type Apply<B> = fn(B, &str, String) -> Result<B>;

/// One option of builder `B`. The descriptive fields are read by the document
/// generator (`docs_gen.rs`, built with the tests).
#[derive(Debug)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct Opt<B: 'static> {
    /// The builder method (`-` when there is none).
    pub method: &'static str,
    /// The Java/librdkafka property name (`-` when the option has none).
    pub property: &'static str,
    /// Other accepted property names (librdkafka's, older Java names).
    pub aliases: &'static [&'static str],
    /// The default, as the property would spell it.
    pub default: &'static str,
    /// A value the property accepts (checked by a unit test).
    pub sample: &'static str,
    /// What it does.
    pub meaning: &'static str,
    /// How the property sets it; `None` for options only the builder sets.
    pub apply: Option<Apply<B>>,
}

impl<B> Opt<B> {
    /// The property name and its aliases.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.property)
            .chain(self.aliases.iter().copied())
            .filter(|k| *k != "-")
    }
}

/// Applies every property of `table` found in `props` to `builder`, in table order,
/// removing what it takes (the rest is for another table, or unknown).
pub(crate) fn apply_options<B>(
    table: &[Opt<B>],
    mut builder: B,
    props: &mut Properties,
) -> Result<B> {
    for opt in table {
        let Some(apply) = opt.apply else { continue };
        for key in opt.keys() {
            if let Some(value) = props.take(key) {
                builder = apply(builder, key, value)?;
            }
        }
    }
    Ok(builder)
}

/// Markdown rows (`| method | property (aliases) | default | meaning |`) of a table.
#[cfg(test)]
pub(crate) fn markdown_rows<B>(table: &[Opt<B>]) -> String {
    let mut out = String::new();
    for o in table {
        let method = if o.method == "-" {
            "-".to_owned()
        } else {
            format!("`{}`", o.method)
        };
        let mut prop = if o.property == "-" {
            "-".to_owned()
        } else {
            format!("`{}`", o.property)
        };
        if !o.aliases.is_empty() {
            let a: Vec<String> = o.aliases.iter().map(|a| format!("`{a}`")).collect();
            prop.push_str(&format!(" ({})", a.join(", ")));
        }
        out.push_str(&format!(
            "| {method} | {prop} | {} | {} |\n",
            o.default, o.meaning
        ));
    }
    out
}

/// Declares an option table: `NAME: Builder { method property [aliases] default sample
/// meaning (=> apply)?; ... }`.
macro_rules! option_table {
    ($(#[$doc:meta])* $name:ident: $builder:ty {
        $( $method:literal $prop:literal [$($alias:literal),*] $default:literal $sample:literal
           $meaning:literal $(=> $apply:expr)? ; )*
    }) => {
        $(#[$doc])*
        pub(crate) static $name: &[$crate::config::options::Opt<$builder>] = &[
            $( $crate::config::options::Opt {
                method: $method,
                property: $prop,
                aliases: &[$($alias),*],
                default: $default,
                sample: $sample,
                meaning: $meaning,
                apply: option_table!(@apply $($apply)?),
            }, )*
        ];
    };
    (@apply) => { None };
    (@apply $apply:expr) => { Some($apply) };
}
pub(crate) use option_table;
