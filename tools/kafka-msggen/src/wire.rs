//! The Rust snippets for one field's type: its Rust type, default and test sample, and
//! the statements and expressions that encode, size and decode it (calling
//! kafka-client's hand-written `protocol_gen/codec.rs`).

use crate::schema::{Field, Type};

/// Where a value is: as a `Copy` value, as a reference, as a method receiver.
pub(crate) struct Place {
    val: String,
    rf: String,
    mc: String,
}

impl Place {
    pub(crate) fn field(name: &str) -> Self {
        Place {
            val: format!("self.{name}"),
            rf: format!("&self.{name}"),
            mc: format!("self.{name}"),
        }
    }
    fn binding(name: &str) -> Self {
        Place {
            val: format!("*{name}"),
            rf: name.into(),
            mc: name.into(),
        }
    }
}

pub(crate) fn is_option(f: &Field) -> bool {
    !f.nullable.is_empty() || f.ty == Type::Records
}

fn base_type(ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::Int8 => "i8".into(),
        Type::Int16 => "i16".into(),
        Type::Uint16 => "u16".into(),
        Type::Int32 => "i32".into(),
        Type::Uint32 => "u32".into(),
        Type::Int64 => "i64".into(),
        Type::Float64 => "f64".into(),
        Type::String => "StrBytes".into(),
        Type::Bytes | Type::Records => "Bytes".into(),
        Type::Uuid => "Uuid".into(),
        Type::Array(e) => format!("Vec<{}>", base_type(e)),
        Type::Struct(s) => s.clone(),
    }
}

pub(crate) fn rust_type(f: &Field) -> String {
    if is_option(f) {
        format!("Option<{}>", base_type(&f.ty))
    } else {
        base_type(&f.ty)
    }
}

fn int_literal(f: &Field, d: &str) -> Result<String, String> {
    let d = d.trim();
    let parsed = if let Some(hex) = d.strip_prefix("0x").or_else(|| d.strip_prefix("0X")) {
        i128::from_str_radix(hex, 16)
    } else if let Some(hex) = d.strip_prefix("-0x") {
        i128::from_str_radix(hex, 16).map(|v| -v)
    } else {
        d.parse::<i128>()
    };
    parsed
        .map(|v| v.to_string())
        .map_err(|e| format!("{}: default {d:?}: {e}", f.name))
}

/// The field's default value as a Rust expression.
pub(crate) fn default_expr(f: &Field) -> Result<String, String> {
    let d = f.default.as_deref();
    let null = d == Some("null");
    if null && !is_option(f) {
        return Err(format!("{}: default null but not nullable", f.name));
    }
    let inner = match &f.ty {
        Type::Bool => match d {
            Some("true") => "true".into(),
            Some("false") | None => "false".into(),
            Some(other) => return Err(format!("{}: bool default {other:?}", f.name)),
        },
        Type::Int8 | Type::Int16 | Type::Uint16 | Type::Int32 | Type::Uint32 | Type::Int64 => {
            int_literal(f, d.unwrap_or("0"))?
        }
        Type::Float64 => {
            let v: f64 = d
                .unwrap_or("0")
                .parse()
                .map_err(|e| format!("{}: {e}", f.name))?;
            format!("{v:?}")
        }
        Type::Uuid => "Uuid::nil()".into(),
        Type::String => {
            if null {
                return Ok("None".into());
            }
            format!("StrBytes::from_static_str({:?})", d.unwrap_or(""))
        }
        Type::Bytes => {
            if null {
                return Ok("None".into());
            }
            "Bytes::new()".into()
        }
        Type::Records => return Ok("None".into()),
        Type::Array(e) => {
            if null {
                return Ok("None".into());
            }
            format!("Vec::<{}>::new()", base_type(e))
        }
        Type::Struct(s) => {
            if null || is_option(f) {
                return Ok("None".into());
            }
            format!("{s}::default()")
        }
    };
    Ok(if is_option(f) {
        format!("Some({inner})")
    } else {
        inner
    })
}

pub(crate) fn sample_base(ty: &Type) -> String {
    match ty {
        Type::Bool => "true".into(),
        Type::Int8 => "7".into(),
        Type::Int16 => "300".into(),
        Type::Uint16 => "60000".into(),
        Type::Int32 => "70000".into(),
        Type::Uint32 => "3000000000".into(),
        Type::Int64 => "1099511627776".into(),
        Type::Float64 => "1.5".into(),
        Type::Uuid => "Uuid::from_u128(0x0123_4567_89ab_cdef_0011_2233_4455_6677)".into(),
        Type::String => "StrBytes::from_static_str(\"sample\")".into(),
        Type::Bytes => "Bytes::from_static(b\"bytes\")".into(),
        Type::Records => "Bytes::from_static(b\"records\")".into(),
        Type::Array(e) => match &**e {
            Type::Struct(s) => format!("vec![{s}::sample(version)]"),
            other => {
                let x = sample_base(other);
                format!("vec![{x}, {x}]")
            }
        },
        Type::Struct(s) => format!("{s}::sample(version)"),
    }
}

fn fixed_size(ty: &Type) -> Option<usize> {
    match ty {
        Type::Bool | Type::Int8 => Some(1),
        Type::Int16 | Type::Uint16 => Some(2),
        Type::Int32 | Type::Uint32 => Some(4),
        Type::Int64 | Type::Float64 => Some(8),
        Type::Uuid => Some(16),
        _ => None,
    }
}

fn put_fixed(ty: &Type, val: &str, mc: &str) -> String {
    match ty {
        Type::Bool => format!("buf.put_u8(u8::from({val}));"),
        Type::Int8 => format!("buf.put_i8({val});"),
        Type::Int16 => format!("buf.put_i16({val});"),
        Type::Uint16 => format!("buf.put_u16({val});"),
        Type::Int32 => format!("buf.put_i32({val});"),
        Type::Uint32 => format!("buf.put_u32({val});"),
        Type::Int64 => format!("buf.put_i64({val});"),
        Type::Float64 => format!("buf.put_f64({val});"),
        Type::Uuid => format!("buf.put_slice({mc}.as_bytes());"),
        _ => unreachable!("not fixed"),
    }
}

fn get_fixed(ty: &Type) -> &'static str {
    match ty {
        Type::Bool => "get_bool",
        Type::Int8 => "get_i8",
        Type::Int16 => "get_i16",
        Type::Uint16 => "get_u16",
        Type::Int32 => "get_i32",
        Type::Uint32 => "get_u32",
        Type::Int64 => "get_i64",
        Type::Float64 => "get_f64",
        Type::Uuid => "get_uuid",
        _ => unreachable!("not fixed"),
    }
}

/// Statements writing a non-optional value of `ty` at `p`.
pub(crate) fn enc(ty: &Type, p: &Place, path: &str) -> String {
    match ty {
        t if fixed_size(t).is_some() => put_fixed(t, &p.val, &p.mc),
        Type::String => format!("codec::put_str(buf, flexible, {}, {path:?})?;", p.rf),
        Type::Bytes | Type::Records => {
            format!("codec::put_bytes(buf, flexible, {}, {path:?})?;", p.rf)
        }
        Type::Array(e) => {
            let inner = enc(e, &Place::binding("e"), path);
            format!(
                "codec::put_len(buf, flexible, {}.len(), {path:?})?;\nfor e in {}.iter() {{\n{inner}\n}}",
                p.mc, p.mc
            )
        }
        Type::Struct(_) => format!("{}.encode(buf, version)?;", p.mc),
        _ => unreachable!(),
    }
}

/// Statements writing an optional value (`Option<T>` at `p`), null allowed when `nn`.
pub(crate) fn enc_opt(ty: &Type, p: &Place, nn: &str, path: &str) -> String {
    match ty {
        Type::String => {
            format!(
                "codec::put_opt_str(buf, flexible, {nn}, {}.as_ref(), {path:?})?;",
                p.mc
            )
        }
        Type::Bytes => {
            format!(
                "codec::put_opt_bytes(buf, flexible, {nn}, {}.as_ref(), {path:?})?;",
                p.mc
            )
        }
        Type::Records => {
            format!(
                "codec::put_records(buf, flexible, {nn}, {}.as_ref(), {path:?})?;",
                p.mc
            )
        }
        Type::Array(_) => format!(
            "match {} {{\nNone => codec::put_null_len(buf, flexible, {nn}, {path:?})?,\nSome(v) => {{\n{}\n}}\n}}",
            p.rf,
            enc(ty, &Place::binding("v"), path)
        ),
        Type::Struct(_) => format!(
            "match {} {{\nNone => {{\ncodec::null_allowed({nn}, {path:?})?;\nbuf.put_i8(-1);\n}}\nSome(v) => {{\nbuf.put_i8(1);\nv.encode(buf, version)?;\n}}\n}}",
            p.rf
        ),
        other => unreachable!("{other:?} is never optional"),
    }
}

/// Statements adding the encoded size of a non-optional value to `size`.
pub(crate) fn size(ty: &Type, p: &Place) -> String {
    match ty {
        t if fixed_size(t).is_some() => format!("size += {};", fixed_size(t).unwrap_or(0)),
        Type::String => format!("size += codec::str_size(flexible, {});", p.rf),
        Type::Bytes | Type::Records => {
            format!("size += codec::bytes_size(flexible, {}.len());", p.mc)
        }
        Type::Array(e) => {
            let head = format!("size += codec::len_size(flexible, {}.len());", p.mc);
            match fixed_size(e) {
                Some(n) => format!("{head}\nsize += {}.len() * {n};", p.mc),
                None => format!(
                    "{head}\nfor e in {}.iter() {{\n{}\n}}",
                    p.mc,
                    size(e, &Place::binding("e"))
                ),
            }
        }
        Type::Struct(_) => format!("size += {}.compute_size(version)?;", p.mc),
        _ => unreachable!(),
    }
}

pub(crate) fn size_opt(ty: &Type, p: &Place) -> String {
    match ty {
        Type::String => format!("size += codec::opt_str_size(flexible, {}.as_ref());", p.mc),
        Type::Bytes | Type::Records => format!(
            "size += codec::opt_bytes_size(flexible, {}.as_ref().map(|b| b.len()));",
            p.mc
        ),
        Type::Array(_) => format!(
            "match {} {{\nNone => size += codec::len_size(flexible, 0),\nSome(v) => {{\n{}\n}}\n}}",
            p.rf,
            size(ty, &Place::binding("v"))
        ),
        Type::Struct(_) => format!(
            "size += 1;\nif let Some(v) = {} {{\nsize += v.compute_size(version)?;\n}}",
            p.rf
        ),
        other => unreachable!("{other:?} is never optional"),
    }
}

fn min_elem(ty: &Type) -> usize {
    fixed_size(ty).unwrap_or(1)
}

/// An expression decoding a non-optional `ty` from buffer expression `b`.
pub(crate) fn dec(ty: &Type, b: &str, path: &str) -> String {
    match ty {
        t if fixed_size(t).is_some() => format!("codec::{}({b}, {path:?})?", get_fixed(t)),
        Type::String => format!("codec::get_str({b}, flexible, {path:?})?"),
        Type::Bytes | Type::Records => format!("codec::get_bytes({b}, flexible, {path:?})?"),
        Type::Array(e) => format!(
            "{{\nlet n = codec::get_len({b}, flexible, {}, {path:?})?;\nlet mut a = Vec::with_capacity(n);\nfor _ in 0..n {{\na.push({});\n}}\na\n}}",
            min_elem(e),
            dec(e, b, path)
        ),
        Type::Struct(s) => format!("{s}::decode({b}, version)?"),
        _ => unreachable!(),
    }
}

pub(crate) fn dec_opt(ty: &Type, b: &str, nn: &str, path: &str) -> String {
    match ty {
        Type::String => format!("codec::get_opt_str({b}, flexible, {nn}, {path:?})?"),
        Type::Bytes | Type::Records => {
            format!("codec::get_opt_bytes({b}, flexible, {nn}, {path:?})?")
        }
        Type::Array(e) => format!(
            "match codec::get_opt_len({b}, flexible, {nn}, {}, {path:?})? {{\nNone => None,\nSome(n) => {{\nlet mut a = Vec::with_capacity(n);\nfor _ in 0..n {{\na.push({});\n}}\nSome(a)\n}}\n}}",
            min_elem(e),
            dec(e, b, path)
        ),
        Type::Struct(s) => format!(
            "if codec::get_i8({b}, {path:?})? < 0 {{\ncodec::null_allowed({nn}, {path:?})?;\nNone\n}} else {{\nSome({s}::decode({b}, version)?)\n}}"
        ),
        other => unreachable!("{other:?} is never optional"),
    }
}
