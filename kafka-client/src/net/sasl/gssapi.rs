//! `GSSAPI` (RFC 4752) over the Kerberos V5 GSS-API mechanism (RFC 4121), as Kafka's
//! brokers (the JDK's `GssKrb5Server`) expect it:
//!
//! 1. the client sends an initial context token holding an AP-REQ for the broker's
//!    service ticket, asking for mutual authentication;
//! 2. the broker answers with an AP-REP, which the client checks (it proves the broker
//!    holds the service key) and acknowledges with an empty message;
//! 3. the broker sends a Wrap token with its security-layer offer (a bit mask and a
//!    buffer size); the client chooses "no security layer" (bit 1), in a Wrap token of
//!    its own; the broker's final answer is empty.
//!
//! The service ticket is fetched (and cached) before the exchange by
//! `crate::kerberos::Login`; this state machine does no I/O.

use picky_asn1::wrapper::{ExplicitContextTag0, ExplicitContextTag1, OctetStringAsn1};
use picky_asn1_der::application_tag::ApplicationTag;
use picky_krb::data_types::{Checksum, EncApRepPartInner};
use picky_krb::messages::{ApRep, KrbError};

use super::{Mechanism, SaslFault};
use crate::kerberos::{EncKey, KrbTime, ServiceTicket};

/// DER of the Kerberos V5 mechanism OID 1.2.840.113554.1.2.2.
const KRB5_OID: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
];
const TOK_AP_REQ: [u8; 2] = [0x01, 0x00];
const TOK_AP_REP: [u8; 2] = [0x02, 0x00];
const TOK_ERROR: [u8; 2] = [0x03, 0x00];
const TOK_WRAP: [u8; 2] = [0x05, 0x04];
/// GSS_C_MUTUAL_FLAG | GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG.
const GSS_FLAGS: u32 = 2 | 16 | 32;
/// AP-OPTIONS mutual-required.
const AP_MUTUAL_REQUIRED: [u8; 4] = [0x20, 0, 0, 0];
/// Wrap token flags (RFC 4121 4.2.2).
const SENT_BY_ACCEPTOR: u8 = 0x01;
const SEALED: u8 = 0x02;
const ACCEPTOR_SUBKEY: u8 = 0x04;
/// Key usages (RFC 4121 2).
const KG_USAGE_ACCEPTOR_SEAL: i32 = 22;
const KG_USAGE_ACCEPTOR_SIGN: i32 = 23;
const KG_USAGE_INITIATOR_SIGN: i32 = 25;
/// The SASL security layer "none" (RFC 4752 3.3).
const LAYER_NONE: u8 = 1;

#[derive(Debug, PartialEq, Eq)]
enum State {
    Start,
    SentApReq,
    AwaitOffer,
    SentAnswer,
}

pub(super) struct Gssapi {
    ticket: ServiceTicket,
    service: String,
    state: State,
    ctime: KrbTime,
    seq: u32,
    acceptor_subkey: Option<EncKey>,
}

impl Gssapi {
    /// The mechanism for `ticket`, a ticket for `service` (for messages).
    pub(super) fn new(ticket: ServiceTicket, service: String) -> Self {
        Self {
            ticket,
            service,
            state: State::Start,
            ctime: KrbTime::now(),
            seq: 0,
            acceptor_subkey: None,
        }
    }

    fn ap_req(&mut self) -> Result<Vec<u8>, SaslFault> {
        let mut seq = [0u8; 4];
        super::random_bytes(&mut seq)?;
        self.seq = u32::from_be_bytes(seq) & 0x3fff_ffff;
        self.ctime = KrbTime::now();
        // RFC 4121 4.1.1: Lgth (16), Bnd (no channel bindings: zeros), Flags.
        let mut value = Vec::with_capacity(24);
        value.extend_from_slice(&16u32.to_le_bytes());
        value.extend_from_slice(&[0u8; 16]);
        value.extend_from_slice(&GSS_FLAGS.to_le_bytes());
        let cksum = Checksum {
            cksumtype: ExplicitContextTag0::from(crate::kerberos::int(0x8003)),
            checksum: ExplicitContextTag1::from(OctetStringAsn1::from(value)),
        };
        let auth = crate::kerberos::authenticator(
            &self.ticket,
            11,
            Some(cksum),
            Some(self.seq),
            self.ctime,
        )
        .map_err(|e| SaslFault::from(e.to_string()))?;
        let ap = crate::kerberos::ap_req(&self.ticket, AP_MUTUAL_REQUIRED, auth)
            .map_err(|e| SaslFault::from(e.to_string()))?;
        let mut inner = KRB5_OID.to_vec();
        inner.extend_from_slice(&TOK_AP_REQ);
        inner.extend_from_slice(&ap);
        let mut token = vec![0x60];
        der_length(inner.len(), &mut token);
        token.extend_from_slice(&inner);
        Ok(token)
    }

    fn check_ap_rep(&mut self, server: &[u8]) -> Result<(), SaslFault> {
        let (id, body) = parse_token(server)?;
        if id == TOK_ERROR {
            let err = picky_asn1_der::from_bytes::<KrbError>(body)
                .map_err(|_| SaslFault::from("the broker sent a malformed KRB-ERROR"))?;
            let code = err.0.error_code.0;
            return Err(format!(
                "the broker rejected the ticket for {}: {} ({code})",
                self.service,
                crate::kerberos::error_name(code)
            )
            .into());
        }
        if id != TOK_AP_REP {
            return Err(
                format!("expected an AP-REP from the broker, got token id {id:02x?}").into(),
            );
        }
        let rep = picky_asn1_der::from_bytes::<ApRep>(body)
            .map_err(|_| SaslFault::from("the broker sent a malformed AP-REP"))?;
        let plain = self
            .ticket
            .session_key
            .decrypt(12, &rep.0.enc_part.0.cipher.0.0)
            .map_err(|e| SaslFault::from(e.to_string()))?
            .ok_or_else(|| {
                SaslFault::from("the broker's AP-REP does not decrypt with the session key: it does not hold the service key")
            })?;
        let part = picky_asn1_der::from_bytes::<ApplicationTag<EncApRepPartInner, 27>>(&plain)
            .map_err(|_| SaslFault::from("the broker sent a malformed AP-REP part"))?
            .0;
        let ctime =
            KrbTime::from_asn1(&part.ctime.0).map_err(|e| SaslFault::from(e.to_string()))?;
        let cusec = crate::kerberos::int_value(&part.cusec.0);
        if ctime.secs != self.ctime.secs || cusec != i64::from(self.ctime.micros) {
            return Err("the broker's AP-REP does not answer our authenticator".into());
        }
        self.acceptor_subkey = part.subkey.0.as_ref().map(|k| {
            EncKey::new(
                crate::kerberos::int_value(&k.0.key_type.0) as i32,
                k.0.key_value.0.0.clone(),
            )
        });
        Ok(())
    }

    fn key_for(&self, flags: u8) -> Result<&EncKey, SaslFault> {
        if flags & ACCEPTOR_SUBKEY != 0 {
            self.acceptor_subkey.as_ref().ok_or_else(|| {
                SaslFault::from("a Wrap token names an acceptor subkey the broker never sent")
            })
        } else {
            Ok(&self.ticket.session_key)
        }
    }

    /// Checks (and, if sealed, decrypts) a Wrap token from the broker.
    fn unwrap(&self, token: &[u8]) -> Result<Vec<u8>, SaslFault> {
        if token.len() < 16 || token[0..2] != TOK_WRAP || token[3] != 0xff {
            return Err("expected a Wrap token from the broker".into());
        }
        let flags = token[2];
        if flags & SENT_BY_ACCEPTOR == 0 {
            return Err("the broker's Wrap token is not marked as sent by the acceptor".into());
        }
        let key = self.key_for(flags)?;
        let ec = u16::from_be_bytes([token[4], token[5]]) as usize;
        let rrc = u16::from_be_bytes([token[6], token[7]]) as usize;
        let mut data = token[16..].to_vec();
        if !data.is_empty() {
            let n = rrc % data.len();
            data.rotate_left(n);
        }
        let bad = || SaslFault::from("the broker's Wrap token fails its integrity check");
        if flags & SEALED != 0 {
            let plain = key
                .decrypt(KG_USAGE_ACCEPTOR_SEAL, &data)
                .map_err(|e| SaslFault::from(e.to_string()))?
                .ok_or_else(bad)?;
            let end = plain.len().checked_sub(ec + 16).ok_or_else(bad)?;
            return Ok(plain[..end].to_vec());
        }
        let split = data.len().checked_sub(ec).ok_or_else(bad)?;
        let (payload, cksum) = data.split_at(split);
        let mut header = [0u8; 16];
        header.copy_from_slice(&token[..16]);
        header[4..8].fill(0);
        let mut signed = payload.to_vec();
        signed.extend_from_slice(&header);
        let expected = key
            .checksum(KG_USAGE_ACCEPTOR_SIGN, &signed)
            .map_err(|e| SaslFault::from(e.to_string()))?;
        if expected != cksum {
            return Err(bad());
        }
        Ok(payload.to_vec())
    }

    /// A Wrap token (integrity only) of `payload` from the client.
    fn wrap(&self, payload: &[u8]) -> Result<Vec<u8>, SaslFault> {
        let flags = if self.acceptor_subkey.is_some() {
            ACCEPTOR_SUBKEY
        } else {
            0
        };
        let key = self.key_for(flags)?;
        let mut header = [0u8; 16];
        header[0..2].copy_from_slice(&TOK_WRAP);
        header[2] = flags;
        header[3] = 0xff;
        header[8..16].copy_from_slice(&u64::from(self.seq).to_be_bytes());
        let mut signed = payload.to_vec();
        signed.extend_from_slice(&header);
        let cksum = key
            .checksum(KG_USAGE_INITIATOR_SIGN, &signed)
            .map_err(|e| SaslFault::from(e.to_string()))?;
        header[4..6].copy_from_slice(&(cksum.len() as u16).to_be_bytes());
        let mut out = header.to_vec();
        out.extend_from_slice(payload);
        out.extend_from_slice(&cksum);
        Ok(out)
    }
}

impl Mechanism for Gssapi {
    fn initial(&mut self) -> Result<Vec<u8>, SaslFault> {
        if self.state != State::Start {
            return Err("GSSAPI exchange already started".into());
        }
        let token = self.ap_req()?;
        self.state = State::SentApReq;
        Ok(token)
    }

    fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, SaslFault> {
        match self.state {
            State::SentApReq => {
                if server.is_empty() {
                    return Err("the broker did not answer the AP-REQ with an AP-REP (mutual authentication)".into());
                }
                self.check_ap_rep(server)?;
                self.state = State::AwaitOffer;
                Ok(Some(Vec::new()))
            }
            State::AwaitOffer => {
                let offer = self.unwrap(server)?;
                if offer.len() != 4 {
                    return Err(format!(
                        "the broker's security-layer offer has {} bytes, not 4",
                        offer.len()
                    )
                    .into());
                }
                if offer[0] & LAYER_NONE == 0 {
                    return Err(format!(
                        "the broker requires a SASL security layer (offer {:#04x}); only \
                         \"no security layer\" is supported (use SASL_SSL for confidentiality)",
                        offer[0]
                    )
                    .into());
                }
                // "No security layer", maximum buffer size 0, no authorization id.
                let answer = self.wrap(&[LAYER_NONE, 0, 0, 0])?;
                self.state = State::SentAnswer;
                Ok(Some(answer))
            }
            State::SentAnswer if server.is_empty() => Ok(None),
            State::SentAnswer => {
                Err("unexpected GSSAPI message after the security-layer answer".into())
            }
            State::Start => Err("GSSAPI exchange not started".into()),
        }
    }
}

fn der_length(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Splits a GSS-API token (`[APPLICATION 0]`, mechanism OID, token id, body).
fn parse_token(token: &[u8]) -> Result<([u8; 2], &[u8]), SaslFault> {
    let bad = || SaslFault::from("the broker sent a malformed GSS-API token");
    let (&tag, rest) = token.split_first().ok_or_else(bad)?;
    if tag != 0x60 {
        return Err(bad());
    }
    let (&first, mut rest) = rest.split_first().ok_or_else(bad)?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return Err(bad());
        }
        let v = rest[..n].iter().fold(0usize, |a, b| (a << 8) | *b as usize);
        rest = &rest[n..];
        v
    };
    if rest.len() != len {
        return Err(bad());
    }
    let rest = rest.strip_prefix(KRB5_OID).ok_or_else(|| {
        SaslFault::from("the broker's GSS-API token is not for the Kerberos V5 mechanism")
    })?;
    if rest.len() < 2 {
        return Err(bad());
    }
    Ok(([rest[0], rest[1]], &rest[2..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use picky_asn1::wrapper::{Asn1SequenceOf, IntegerAsn1};
    use picky_krb::data_types::{EncryptedData, PrincipalName, TicketInner};

    fn ticket() -> ServiceTicket {
        let name = PrincipalName {
            name_type: ExplicitContextTag0::from(IntegerAsn1::from(vec![1])),
            name_string: ExplicitContextTag1::from(Asn1SequenceOf::from(vec![
                crate::kerberos::kstring("alice").unwrap(),
            ])),
        };
        let ticket = ApplicationTag(TicketInner {
            tkt_vno: ExplicitContextTag0::from(IntegerAsn1::from(vec![5])),
            realm: ExplicitContextTag1::from(crate::kerberos::kstring("EX.COM").unwrap()),
            sname: picky_asn1::wrapper::ExplicitContextTag2::from(name.clone()),
            enc_part: picky_asn1::wrapper::ExplicitContextTag3::from(EncryptedData {
                etype: ExplicitContextTag0::from(IntegerAsn1::from(vec![18])),
                kvno: picky_asn1::wrapper::Optional::from(None),
                cipher: picky_asn1::wrapper::ExplicitContextTag2::from(OctetStringAsn1::from(
                    vec![1, 2, 3],
                )),
            }),
        });
        ServiceTicket {
            ticket,
            session_key: EncKey::new(18, vec![9; 32]),
            client: name,
            client_realm: "EX.COM".into(),
            lifetime_secs: 3600,
        }
    }

    /// A Wrap token from the acceptor, as the broker builds it (integrity only).
    fn acceptor_wrap(key: &EncKey, flags: u8, payload: &[u8], rrc: u16) -> Vec<u8> {
        let mut header = [0u8; 16];
        header[0..2].copy_from_slice(&TOK_WRAP);
        header[2] = flags | SENT_BY_ACCEPTOR;
        header[3] = 0xff;
        header[15] = 7;
        let mut signed = payload.to_vec();
        signed.extend_from_slice(&header);
        let cksum = key.checksum(KG_USAGE_ACCEPTOR_SIGN, &signed).unwrap();
        header[4..6].copy_from_slice(&(cksum.len() as u16).to_be_bytes());
        header[6..8].copy_from_slice(&rrc.to_be_bytes());
        let mut data = payload.to_vec();
        data.extend_from_slice(&cksum);
        let n = rrc as usize % data.len();
        data.rotate_right(n);
        let mut out = header.to_vec();
        out.extend(data);
        out
    }

    #[test]
    fn initial_token_is_a_krb5_ap_req() {
        let mut g = Gssapi::new(ticket(), "kafka/h@EX.COM".into());
        let t = g.initial().unwrap();
        let (id, body) = parse_token(&t).unwrap();
        assert_eq!(id, TOK_AP_REQ);
        assert_eq!(body[0], 0x6e, "AP-REQ is [APPLICATION 14]");
        assert!(g.initial().is_err());
    }

    #[test]
    fn security_layer_negotiation_picks_no_layer() {
        let mut g = Gssapi::new(ticket(), "kafka/h@EX.COM".into());
        g.initial().unwrap();
        g.state = State::AwaitOffer;
        let key = g.ticket.session_key.clone();
        let offer = acceptor_wrap(&key, 0, &[0x07, 0x01, 0x00, 0x00], 3);
        let answer = g.step(&offer).unwrap().unwrap();
        assert_eq!(&answer[0..2], &TOK_WRAP);
        assert_eq!(answer[2], 0, "from the initiator, no subkey, not sealed");
        assert_eq!(&answer[16..20], &[LAYER_NONE, 0, 0, 0]);
        // The broker's check of our token: checksum over payload | header with EC=RRC=0.
        let mut header = [0u8; 16];
        header.copy_from_slice(&answer[..16]);
        header[4..8].fill(0);
        let mut signed = answer[16..20].to_vec();
        signed.extend_from_slice(&header);
        assert_eq!(
            key.checksum(KG_USAGE_INITIATOR_SIGN, &signed).unwrap(),
            answer[20..]
        );
        assert_eq!(g.step(b"").unwrap(), None);
    }

    #[test]
    fn bad_offers_are_refused() {
        let mut g = Gssapi::new(ticket(), "kafka/h@EX.COM".into());
        g.initial().unwrap();
        g.state = State::AwaitOffer;
        let key = g.ticket.session_key.clone();
        let mut tampered = acceptor_wrap(&key, 0, &[0x07, 0, 0, 0], 0);
        tampered[16] ^= 1;
        let e = g.step(&tampered).unwrap_err();
        assert!(e.contains("integrity"), "{e}");
        let conf_only = acceptor_wrap(&key, 0, &[0x04, 0, 0, 0], 0);
        let e = g.step(&conf_only).unwrap_err();
        assert!(e.contains("security layer"), "{e}");
        let subkey = acceptor_wrap(&key, ACCEPTOR_SUBKEY, &[0x01, 0, 0, 0], 0);
        let e = g.step(&subkey).unwrap_err();
        assert!(e.contains("subkey"), "{e}");
    }

    #[test]
    fn hostile_tokens_are_errors() {
        for t in [
            &b""[..],
            b"\x60",
            b"\x60\x85\xff\xff\xff\xff\xff",
            b"\x60\x02\x06\x09",
            b"\x61\x00",
        ] {
            assert!(parse_token(t).is_err(), "{t:?}");
        }
        let mut g = Gssapi::new(ticket(), "kafka/h@EX.COM".into());
        g.initial().unwrap();
        assert!(g.step(b"").is_err());
        let mut junk = vec![0x60, 13];
        junk.extend_from_slice(KRB5_OID);
        junk.extend_from_slice(&TOK_AP_REP);
        assert!(g.step(&junk).is_err());
    }
}
