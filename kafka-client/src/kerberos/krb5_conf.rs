//! The two things the client reads from a `krb5.conf`: `[libdefaults] default_realm`
//! and each realm's `kdc` lines. Everything else in the file is ignored.

/// What the client takes from a `krb5.conf`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Krb5Conf {
    pub(crate) default_realm: Option<String>,
    /// `(realm, kdc)` in file order.
    realm_kdcs: Vec<(String, String)>,
}

impl Krb5Conf {
    /// Parses the text of a `krb5.conf` (MIT profile syntax: `[section]`, `key = value`,
    /// `REALM = { ... }` blocks, `#`/`;` comments).
    pub(crate) fn parse(text: &str) -> Self {
        let mut out = Krb5Conf::default();
        let mut section = String::new();
        let mut realm: Option<String> = None;
        let mut depth = 0usize;
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if line.starts_with('[') && line.ends_with(']') && depth == 0 {
                section = line[1..line.len() - 1].trim().to_owned();
                realm = None;
                continue;
            }
            if line == "}" {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    realm = None;
                }
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            if value == "{" {
                depth += 1;
                if depth == 1 && section == "realms" {
                    realm = Some(key.to_owned());
                }
                continue;
            }
            match (section.as_str(), depth, key) {
                ("libdefaults", 0, "default_realm") => {
                    out.default_realm = Some(value.to_owned());
                }
                ("realms", 1, "kdc") => {
                    if let Some(r) = &realm {
                        out.realm_kdcs.push((r.clone(), value.to_owned()));
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The KDCs listed for `realm`.
    pub(crate) fn kdcs(&self, realm: &str) -> Vec<String> {
        self.realm_kdcs
            .iter()
            .filter(|(r, _)| r == realm)
            .map(|(_, k)| k.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_default_realm_and_kdcs() {
        let c = Krb5Conf::parse(
            "# comment\n[libdefaults]\n default_realm = A.COM\n dns_lookup_kdc = false\n\
             [realms]\n A.COM = {\n  kdc = k1.a.com\n  kdc = k2.a.com:750\n  admin_server = adm\n }\n\
             B.COM = {\n  kdc = kb\n }\n[domain_realm]\n .a.com = A.COM\n",
        );
        assert_eq!(c.default_realm.as_deref(), Some("A.COM"));
        assert_eq!(c.kdcs("A.COM"), ["k1.a.com", "k2.a.com:750"]);
        assert_eq!(c.kdcs("B.COM"), ["kb"]);
        assert!(c.kdcs("C.COM").is_empty());
    }
}
