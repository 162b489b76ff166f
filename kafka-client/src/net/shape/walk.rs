//! The walker: follows a layout over the bytes of one response, checking every length
//! prefix against the bytes that remain, without allocating.

use super::layout::{Api, Field, Kind};
use crate::net::Fault as NetFault;

/// What was wrong, and where (field names innermost first).
#[derive(Debug)]
struct Fault {
    what: String,
    path: Vec<String>,
}

impl Fault {
    fn new(what: String) -> Self {
        Self {
            what,
            path: Vec::new(),
        }
    }

    fn at(mut self, name: &str) -> Self {
        self.path.push(name.to_owned());
        self
    }

    fn at_index(mut self, i: u64) -> Self {
        self.path.push(format!("[{i}]"));
        self
    }

    fn render(self, api: &Api, version: i16) -> String {
        let mut field = String::new();
        for part in self.path.iter().rev() {
            if !field.is_empty() && !part.starts_with('[') {
                field.push('.');
            }
            field.push_str(part);
        }
        if field.is_empty() {
            format!("{} v{version} response: {}", api.name, self.what)
        } else {
            format!(
                "{} v{version} response, field `{field}`: {}",
                api.name, self.what
            )
        }
    }
}

type Step = Result<(), Fault>;

struct Walker<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Exclusive end of the current window (the frame, or one tagged field).
    end: usize,
    version: i16,
    flexible: bool,
}

/// Walks a frame starting at the correlation id.
pub(super) fn frame(
    api: &Api,
    version: i16,
    header_tags: bool,
    buf: &[u8],
) -> Result<(), NetFault> {
    let mut w = Walker::new(api, version, buf);
    let header = w
        .skip(4)
        .and_then(|()| if header_tags { w.tags(&[]) } else { Ok(()) })
        .map_err(|f| f.at("header"));
    header
        .and_then(|()| w.body(api))
        .map_err(|f| NetFault::decode(f.render(api, version)))
}

/// Walks a response body (after the header).
pub(super) fn body(api: &Api, version: i16, buf: &[u8]) -> Result<(), NetFault> {
    Walker::new(api, version, buf)
        .body(api)
        .map_err(|f| NetFault::decode(f.render(api, version)))
}

/// The fewest bytes `kind` can take on the wire.
fn min_size(kind: &Kind, version: i16, flexible: bool) -> u64 {
    match kind {
        Kind::Fixed { size } => u64::from(*size),
        Kind::Str => {
            if flexible {
                1
            } else {
                2
            }
        }
        Kind::Bytes | Kind::Array { .. } => {
            if flexible {
                1
            } else {
                4
            }
        }
        Kind::Struct { fields } => {
            let own: u64 = fields
                .iter()
                .filter(|f| f.tag.is_none() && f.present(version))
                .map(|f| min_size(&f.kind, version, flexible))
                .sum();
            own + u64::from(flexible)
        }
    }
}

impl<'a> Walker<'a> {
    fn new(api: &Api, version: i16, buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            end: buf.len(),
            version,
            flexible: version >= api.flex,
        }
    }

    fn body(&mut self, api: &Api) -> Step {
        self.fields(api.body)?;
        if self.pos != self.buf.len() {
            return Err(Fault::new(format!(
                "{} trailing bytes after the last field",
                self.buf.len() - self.pos
            )));
        }
        Ok(())
    }

    fn left(&self) -> usize {
        self.end - self.pos
    }

    fn skip(&mut self, n: usize) -> Step {
        if n > self.left() {
            return Err(Fault::new(format!(
                "needs {n} bytes but only {} are left",
                self.left()
            )));
        }
        self.pos += n;
        Ok(())
    }

    fn fixed<const W: usize>(&mut self) -> Result<[u8; W], Fault> {
        let bytes = *self.buf[self.pos..self.end]
            .first_chunk::<W>()
            .ok_or_else(|| Fault::new(format!("truncated: {} bytes left", self.left())))?;
        self.pos += W;
        Ok(bytes)
    }

    /// An unsigned varint of at most 5 bytes that fits in 32 bits.
    fn uvarint(&mut self) -> Result<u32, Fault> {
        let mut value: u32 = 0;
        for i in 0..4 {
            let [b] = self.fixed::<1>()?;
            value |= u32::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(value);
            }
        }
        let [last] = self.fixed::<1>()?;
        if last > 0x0f {
            return Err(Fault::new("unsigned varint overflows 32 bits".into()));
        }
        Ok(value | u32::from(last) << 28)
    }

    /// A length or count prefix: `None` for null, else the value.
    fn prefix(&mut self, classic_width: usize, what: &str) -> Result<Option<u64>, Fault> {
        if self.flexible {
            return Ok(match self.uvarint()? {
                0 => None,
                n => Some(u64::from(n - 1)),
            });
        }
        let n = if classic_width == 2 {
            i64::from(i16::from_be_bytes(self.fixed::<2>()?))
        } else {
            i64::from(i32::from_be_bytes(self.fixed::<4>()?))
        };
        match n {
            -1 => Ok(None),
            n if n < 0 => Err(Fault::new(format!("negative {what} {n}"))),
            n => Ok(Some(n as u64)),
        }
    }

    fn sized(&mut self, classic_width: usize) -> Step {
        if let Some(len) = self.prefix(classic_width, "length")? {
            if len > self.left() as u64 {
                return Err(Fault::new(format!(
                    "length {len} exceeds the {} bytes left",
                    self.left()
                )));
            }
            self.pos += len as usize;
        }
        Ok(())
    }

    fn kind(&mut self, kind: &Kind) -> Step {
        match kind {
            Kind::Fixed { size } => self.skip(usize::from(*size)),
            Kind::Str => self.sized(2),
            Kind::Bytes => self.sized(4),
            Kind::Struct { fields } => self.fields(fields),
            Kind::Array { of } => {
                let Some(count) = self.prefix(4, "array count")? else {
                    return Ok(());
                };
                let min = min_size(of, self.version, self.flexible).max(1);
                let left = self.left() as u64;
                if count > left / min {
                    return Err(Fault::new(format!(
                        "array count {count} cannot fit in the {left} bytes left \
                         (each element takes at least {min})"
                    )));
                }
                if let Kind::Fixed { size } = of {
                    return self.skip(count as usize * usize::from(*size));
                }
                for i in 0..count {
                    self.kind(of).map_err(|f| f.at_index(i))?;
                }
                Ok(())
            }
        }
    }

    fn fields(&mut self, fields: &[Field]) -> Step {
        for f in fields {
            if f.tag.is_none() && f.present(self.version) {
                self.kind(&f.kind).map_err(|e| e.at(f.name))?;
            }
        }
        if self.flexible {
            self.tags(fields)?;
        }
        Ok(())
    }

    /// A tag buffer: known tags are walked inside their declared size, others skipped.
    fn tags(&mut self, fields: &[Field]) -> Step {
        let count = self.uvarint()?;
        // Each tagged field takes at least two bytes (tag and size).
        if u64::from(count) > self.left() as u64 / 2 {
            return Err(Fault::new(format!(
                "{count} tagged fields cannot fit in the {} bytes left",
                self.left()
            )));
        }
        for _ in 0..count {
            let tag = self.uvarint()?;
            let size = self.uvarint()? as usize;
            if size > self.left() {
                return Err(Fault::new(format!(
                    "tagged field {tag} declares {size} bytes but only {} are left",
                    self.left()
                )));
            }
            let end = self.pos + size;
            let known = fields
                .iter()
                .find(|f| f.tag == Some(tag) && f.present(self.version));
            match known {
                None => self.pos = end,
                Some(f) => {
                    let outer = std::mem::replace(&mut self.end, end);
                    let walked = self.kind(&f.kind);
                    self.end = outer;
                    walked.map_err(|e| e.at(f.name))?;
                    if self.pos != end {
                        return Err(Fault::new(format!(
                            "tagged field declares {size} bytes but its content ends {} bytes early",
                            end - self.pos
                        ))
                        .at(f.name));
                    }
                }
            }
        }
        Ok(())
    }
}
