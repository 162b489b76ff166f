//! `PLAIN` (RFC 4616): one message, `authzid NUL authcid NUL password`.

use super::Mechanism;
use super::SaslFault;
use crate::config::Secret;

pub(super) struct Plain {
    username: String,
    password: Secret,
    sent: bool,
}

impl Plain {
    pub(super) fn new(username: &str, password: &Secret) -> Self {
        Self {
            username: username.to_owned(),
            password: password.clone(),
            sent: false,
        }
    }
}

impl Mechanism for Plain {
    fn initial(&mut self) -> Result<Vec<u8>, SaslFault> {
        if self.username.contains('\0') {
            return Err("the user name contains a NUL character".into());
        }
        self.sent = true;
        let mut m = Vec::with_capacity(2 + self.username.len() + self.password.expose().len());
        m.push(0);
        m.extend_from_slice(self.username.as_bytes());
        m.push(0);
        m.extend_from_slice(self.password.expose().as_bytes());
        Ok(m)
    }

    fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, SaslFault> {
        if !self.sent || !server.is_empty() {
            return Err("unexpected PLAIN challenge from the broker".into());
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_layout() {
        let mut p = Plain::new("alice", &Secret::new("pw"));
        assert_eq!(p.initial().unwrap(), b"\0alice\0pw");
        assert_eq!(p.step(b"").unwrap(), None);
    }
}
