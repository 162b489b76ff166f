//! InitProducerId, written once: the request for a producer id (idempotent or
//! transactional) or for an epoch bump of the current one (KIP-360, InitProducerId v3+
//! with the current id and epoch), and the answer as a producer identity or a typed
//! error. The idempotent producer (`producer/identity.rs`) and the transactional one
//! (`producer/txn/requests.rs`, which adds its coordinator's retry rules) both use it.

use std::time::Duration;

use kafka_protocol::messages::{
    ApiKey, InitProducerIdRequest, InitProducerIdResponse, ProducerId, TransactionalId,
};
use kafka_protocol::protocol::{StrBytes, VersionRange};

use crate::error::{Error, ErrorCode, ErrorContext, Result};
use crate::net::Connection;
use crate::types::ProducerIdent;

/// What an InitProducerId asks for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InitProducerId<'a> {
    /// The transactional id, for a transactional producer.
    pub transactional_id: Option<&'a str>,
    /// The transaction timeout the coordinator enforces.
    pub transaction_timeout: Duration,
    /// Bump the epoch of this identity instead of getting a new one.
    pub bump: Option<ProducerIdent>,
}

impl InitProducerId<'_> {
    /// The version to send on `conn`. A transactional bump needs v3 (it must keep the
    /// producer id); an idempotent producer on an older broker gets a new id instead.
    pub(crate) fn version(&self, conn: &Connection) -> Result<i16> {
        let min = if self.bump.is_some() && self.transactional_id.is_some() {
            3
        } else {
            0
        };
        conn.negotiate::<InitProducerIdRequest>(VersionRange { min, max: 5 })
    }

    /// The request at `version`.
    pub(crate) fn request(&self, version: i16) -> InitProducerIdRequest {
        let timeout_ms = i32::try_from(self.transaction_timeout.as_millis()).unwrap_or(i32::MAX);
        let mut req = InitProducerIdRequest::default()
            .with_transactional_id(
                self.transactional_id
                    .map(|id| TransactionalId(StrBytes::from_string(id.to_string()))),
            )
            .with_transaction_timeout_ms(timeout_ms)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
        if let Some(b) = self.bump.filter(|_| version >= 3) {
            req = req
                .with_producer_id(ProducerId(b.id))
                .with_producer_epoch(b.epoch);
        }
        req
    }

    /// The answer: the identity, or the broker's error code typed, naming the broker
    /// and the transactional id.
    pub(crate) fn answer(
        &self,
        conn: &Connection,
        resp: &InitProducerIdResponse,
    ) -> Result<ProducerIdent> {
        if let Some(code) = ErrorCode::from_code(resp.error_code) {
            let mut ctx = ErrorContext::broker(conn.broker_id(), conn.address())
                .with_api(ApiKey::InitProducerId);
            if let Some(id) = self.transactional_id {
                ctx = ctx.with_resource(id.to_string());
            }
            return Err(Error::broker(code, ctx, None));
        }
        Ok(ProducerIdent {
            id: resp.producer_id.0,
            epoch: resp.producer_epoch,
        })
    }

    /// One round trip on `conn`.
    pub(crate) async fn send(&self, conn: &Connection, timeout: Duration) -> Result<ProducerIdent> {
        let version = self.version(conn)?;
        let resp = conn
            .request_at(&self.request(version), version, timeout)
            .await?;
        self.answer(conn, &resp)
    }
}

/// Sends InitProducerId on `conn` for `transactional_id` (on its transaction coordinator's
/// connection) or for an idempotent producer (`None`, any broker): a new producer id, or
/// for a transactional id the current one with its epoch bumped, which fences the
/// previous producer of that id (KIP-664). Returns the producer id and epoch, or the
/// broker's error code typed, naming the transactional id.
pub async fn init_producer_id_on(
    conn: &Connection,
    transactional_id: Option<&str>,
    transaction_timeout: Duration,
    timeout: Duration,
) -> Result<(i64, i16)> {
    let ask = InitProducerId {
        transactional_id,
        transaction_timeout,
        bump: None,
    };
    let ident = ask.send(conn, timeout).await?;
    Ok((ident.id, ident.epoch))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: ProducerIdent = ProducerIdent { id: 42, epoch: 7 };

    #[test]
    fn a_first_request_asks_for_a_new_identity() {
        let ask = InitProducerId {
            transactional_id: None,
            transaction_timeout: Duration::from_secs(60),
            bump: None,
        };
        let req = ask.request(5);
        assert_eq!((req.producer_id.0, req.producer_epoch), (-1, -1));
        assert!(req.transactional_id.is_none());
        assert_eq!(req.transaction_timeout_ms, 60_000);
    }

    #[test]
    fn a_bump_carries_the_current_identity_from_v3_only() {
        let ask = InitProducerId {
            transactional_id: Some("tx"),
            transaction_timeout: Duration::from_secs(10),
            bump: Some(ID),
        };
        let req = ask.request(3);
        assert_eq!((req.producer_id.0, req.producer_epoch), (42, 7));
        assert_eq!(
            req.transactional_id.as_ref().map(|t| t.0.as_str()),
            Some("tx")
        );
        let old = ask.request(2);
        assert_eq!((old.producer_id.0, old.producer_epoch), (-1, -1));
    }
}
