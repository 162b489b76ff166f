//! `AWS_MSK_IAM` (Amazon MSK): the client sends one JSON message, the SigV4-presigned
//! `kafka-cluster:Connect` request for the broker host (built in `aws/msk.rs` before the
//! exchange starts, since credentials may be fetched remotely); the broker answers with
//! a non-empty JSON object (`version`, `request-id`) on success.

use super::{Mechanism, SaslFault};

pub(super) struct AwsMskIam {
    payload: Option<Vec<u8>>,
}

impl AwsMskIam {
    pub(super) fn new(payload: Vec<u8>) -> Self {
        Self {
            payload: Some(payload),
        }
    }
}

impl Mechanism for AwsMskIam {
    fn initial(&mut self) -> Result<Vec<u8>, SaslFault> {
        self.payload
            .take()
            .ok_or_else(|| "the AWS_MSK_IAM payload was already sent".into())
    }

    fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, SaslFault> {
        let text = std::str::from_utf8(server).unwrap_or("").trim();
        if text.starts_with('{') && text.ends_with('}') {
            Ok(None)
        } else {
            Err(format!(
                "expected the broker's JSON authentication response, got {} bytes",
                server.len()
            )
            .into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_then_a_json_answer() {
        let mut m = AwsMskIam::new(b"{\"a\":\"b\"}".to_vec());
        assert_eq!(m.initial().unwrap(), b"{\"a\":\"b\"}");
        assert!(m.initial().is_err());
        assert_eq!(
            m.step(b"{\"version\":\"2020_10_22\",\"request-id\":\"x\"}")
                .unwrap(),
            None
        );
        let e = m.step(b"").unwrap_err();
        assert!(e.contains("JSON"), "{e}");
    }
}
