//! `OAUTHBEARER` (RFC 7628, KIP-255): the client sends its bearer token (and KIP-342
//! extensions) in one message. A broker that rejects the token answers with a JSON
//! error challenge, to which the client replies with a single `0x01`; the broker then
//! fails the exchange with `SASL_AUTHENTICATION_FAILED`.

use super::Mechanism;
use super::SaslFault;
use crate::config::OAuthBearerToken;

const SEP: u8 = 0x01;

pub(super) struct OAuthBearer {
    token: OAuthBearerToken,
    state: State,
}

enum State {
    Start,
    Sent,
    Failed(String),
}

impl OAuthBearer {
    pub(super) fn new(token: OAuthBearerToken) -> Self {
        Self {
            token,
            state: State::Start,
        }
    }
}

impl Mechanism for OAuthBearer {
    fn initial(&mut self) -> Result<Vec<u8>, SaslFault> {
        let value = self.token.value.expose();
        if value.is_empty() || value.bytes().any(|b| !(0x20..0x7f).contains(&b)) {
            return Err("the token provider returned an empty or non-printable token".into());
        }
        let mut m = b"n,,".to_vec();
        m.push(SEP);
        m.extend_from_slice(b"auth=Bearer ");
        m.extend_from_slice(value.as_bytes());
        for (k, v) in &self.token.extensions {
            if k.is_empty() || k == "auth" || !k.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(format!("invalid SASL extension name {k:?}").into());
            }
            if v.bytes().any(|b| b == SEP) {
                return Err(format!("SASL extension {k:?} has an invalid value").into());
            }
            m.push(SEP);
            m.extend_from_slice(k.as_bytes());
            m.push(b'=');
            m.extend_from_slice(v.as_bytes());
        }
        m.push(SEP);
        m.push(SEP);
        self.state = State::Sent;
        Ok(m)
    }

    fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, SaslFault> {
        match &self.state {
            State::Sent if server.is_empty() => Ok(None),
            State::Sent => {
                // An error challenge (`{"status":"invalid_token",...}`): acknowledge it.
                let status = String::from_utf8_lossy(server).into_owned();
                self.state = State::Failed(status);
                Ok(Some(vec![SEP]))
            }
            State::Failed(status) => Err(format!("the broker rejected the token: {status}").into()),
            State::Start => Err("unexpected OAUTHBEARER challenge".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_response_layout() {
        let mut t = OAuthBearerToken::new("abc.def.");
        t.extensions.push(("traceId".into(), "42".into()));
        let mut m = OAuthBearer::new(t);
        assert_eq!(
            m.initial().unwrap(),
            b"n,,\x01auth=Bearer abc.def.\x01traceId=42\x01\x01"
        );
        assert_eq!(m.step(b"").unwrap(), None);
    }

    #[test]
    fn error_challenge_is_acknowledged() {
        let mut m = OAuthBearer::new(OAuthBearerToken::new("t"));
        m.initial().unwrap();
        assert_eq!(
            m.step(b"{\"status\":\"invalid_token\"}").unwrap(),
            Some(vec![1])
        );
        let e = m.step(b"").unwrap_err();
        assert!(e.contains("invalid_token"), "{e}");
    }
}
