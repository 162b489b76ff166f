//! The AS exchange (login: a TGT for the client principal) and the TGS exchange (a
//! service ticket for `service/host@REALM`), RFC 4120 sections 3.1 and 3.3, with
//! PA-ENC-TIMESTAMP pre-authentication (RFC 4120 5.2.7.2) and the salt the KDC names in
//! PA-ETYPE-INFO2. Only the AES-CTS-HMAC-SHA1-96 encryption types (17, 18: RFC 3962, the
//! defaults of MIT, Heimdal and Active Directory) are offered.

use picky_asn1::bit_string::BitString;
use picky_asn1::restricted_string::Ia5String;
use picky_asn1::wrapper::{
    Asn1SequenceOf, BitStringAsn1, ExplicitContextTag0, ExplicitContextTag1, ExplicitContextTag2,
    ExplicitContextTag3, ExplicitContextTag4, ExplicitContextTag5, ExplicitContextTag7,
    ExplicitContextTag8, GeneralStringAsn1, IntegerAsn1, OctetStringAsn1, Optional,
};
use picky_asn1_der::application_tag::ApplicationTag;
use picky_krb::crypto::{ChecksumSuite, CipherSuite};
use picky_krb::data_types::{
    Authenticator, AuthenticatorInner, Checksum, EncryptedData, EncryptionKey, EtypeInfo2,
    KerberosStringAsn1, PaData, PaEncTsEnc, PrincipalName, Ticket,
};
use picky_krb::messages::{
    ApReq, ApReqInner, AsRep, EncKdcRepPart, KdcRep, KdcReq, KdcReqBody, KrbError, TgsRep,
};

use super::failure::from_code;
use super::time::KrbTime;
use super::{KerberosFailure, transport};
use crate::config::{KerberosKey, ResolvedKerberos};

/// Encryption types offered, in preference order.
pub(crate) const ETYPES: [i32; 2] = [18, 17];
const PA_TGS_REQ: u32 = 1;
const PA_ENC_TIMESTAMP: u32 = 2;
const PA_ETYPE_INFO2: u32 = 19;
const KDC_ERR_PREAUTH_REQUIRED: u32 = 25;
const NT_PRINCIPAL: u32 = 1;
const NT_SRV_INST: u32 = 2;
/// Asked ticket lifetime; the KDC caps it to the realm's and principal's maximum.
const REQUESTED_LIFETIME_SECS: i64 = 24 * 3600;

/// A key (session or long-term) and its encryption type. `Debug` hides the key.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct EncKey {
    pub(crate) etype: i32,
    pub(crate) value: Vec<u8>,
}

impl std::fmt::Debug for EncKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncKey(etype {}, ***)", self.etype)
    }
}

impl EncKey {
    pub(crate) fn new(etype: i32, value: Vec<u8>) -> Self {
        Self { etype, value }
    }

    fn suite(&self) -> Result<CipherSuite, KerberosFailure> {
        CipherSuite::try_from(self.etype as usize).map_err(|_| {
            KerberosFailure::Protocol(format!("encryption type {} is not supported", self.etype))
        })
    }

    /// RFC 3961 encrypt (confounder, HMAC) with `usage`.
    pub(crate) fn encrypt(&self, usage: i32, plain: &[u8]) -> Result<Vec<u8>, KerberosFailure> {
        self.suite()?
            .cipher()
            .encrypt(&self.value, usage, plain)
            .map_err(|e| KerberosFailure::Protocol(format!("encryption failed: {e}")))
    }

    /// RFC 3961 decrypt with `usage`; `None` when the integrity check fails (wrong key).
    pub(crate) fn decrypt(
        &self,
        usage: i32,
        cipher: &[u8],
    ) -> Result<Option<Vec<u8>>, KerberosFailure> {
        match self.suite()?.cipher().decrypt(&self.value, usage, cipher) {
            Ok(p) => Ok(Some(p)),
            Err(picky_krb::crypto::KerberosCryptoError::IntegrityCheck) => Ok(None),
            Err(e) => Err(KerberosFailure::Protocol(format!("decryption failed: {e}"))),
        }
    }

    /// The keyed checksum type of this key's encryption type (RFC 3962).
    pub(crate) fn checksum_suite(&self) -> Result<(ChecksumSuite, i32), KerberosFailure> {
        match self.etype {
            18 => Ok((ChecksumSuite::HmacSha196Aes256, 16)),
            17 => Ok((ChecksumSuite::HmacSha196Aes128, 15)),
            e => Err(KerberosFailure::Protocol(format!(
                "no checksum for encryption type {e}"
            ))),
        }
    }

    /// The RFC 3961 keyed checksum of `data` with `usage`.
    pub(crate) fn checksum(&self, usage: i32, data: &[u8]) -> Result<Vec<u8>, KerberosFailure> {
        let (suite, _) = self.checksum_suite()?;
        suite
            .hasher()
            .checksum(&self.value, usage, data)
            .map_err(|e| KerberosFailure::Protocol(format!("checksum failed: {e}")))
    }

    fn from_asn1(k: &EncryptionKey) -> Self {
        Self::new(int_value(&k.key_type.0) as i32, k.key_value.0.0.clone())
    }
}

/// A ticket with its session key: a TGT (from the AS exchange) or a service ticket.
#[derive(Clone, Debug)]
pub(crate) struct ServiceTicket {
    pub(crate) ticket: Ticket,
    pub(crate) session_key: EncKey,
    /// The client principal as the KDC names it.
    pub(crate) client: PrincipalName,
    pub(crate) client_realm: String,
    /// Seconds from the ticket's start to its end, by the KDC's clock.
    pub(crate) lifetime_secs: i64,
}

pub(crate) fn int(v: u32) -> IntegerAsn1 {
    IntegerAsn1::from_bytes_be_unsigned(v.to_be_bytes().to_vec())
}

pub(crate) fn int_value(i: &IntegerAsn1) -> i64 {
    let b = i.as_signed_bytes_be();
    let mut v: i64 = if b.first().is_some_and(|x| x & 0x80 != 0) {
        -1
    } else {
        0
    };
    for x in b.iter().take(8) {
        v = (v << 8) | i64::from(*x);
    }
    v
}

pub(crate) fn kstring(s: &str) -> Result<KerberosStringAsn1, KerberosFailure> {
    Ia5String::from_string(s.to_owned())
        .map(GeneralStringAsn1::from)
        .map_err(|_| KerberosFailure::Protocol(format!("{s:?} is not an ASCII Kerberos name")))
}

pub(crate) fn principal(
    name_type: u32,
    components: &[&str],
) -> Result<PrincipalName, KerberosFailure> {
    Ok(PrincipalName {
        name_type: ExplicitContextTag0::from(int(name_type)),
        name_string: ExplicitContextTag1::from(Asn1SequenceOf::from(
            components
                .iter()
                .map(|c| kstring(c))
                .collect::<Result<Vec<_>, _>>()?,
        )),
    })
}

fn flags(bytes: [u8; 4]) -> BitStringAsn1 {
    BitStringAsn1::from(BitString::with_bytes(bytes.to_vec()))
}

fn der<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, KerberosFailure> {
    picky_asn1_der::to_vec(v)
        .map_err(|e| KerberosFailure::Protocol(format!("cannot encode a message: {e}")))
}

fn nonce() -> Result<u32, KerberosFailure> {
    let mut b = [0u8; 4];
    crate::config::crypto_provider()
        .secure_random
        .fill(&mut b)
        .map_err(|_| KerberosFailure::Protocol("no secure random source".into()))?;
    Ok(u32::from_be_bytes(b) & 0x7fff_ffff)
}

fn encrypted(key: &EncKey, usage: i32, plain: &[u8]) -> Result<EncryptedData, KerberosFailure> {
    Ok(EncryptedData {
        etype: ExplicitContextTag0::from(int(key.etype as u32)),
        kvno: Optional::from(None),
        cipher: ExplicitContextTag2::from(OctetStringAsn1::from(key.encrypt(usage, plain)?)),
    })
}

/// A KDC's reply: the expected KDC-REP, or a KRB-ERROR.
enum Reply {
    Rep(KdcRep),
    Error(Box<KrbError>),
}

fn decode_reply(bytes: &[u8], tgs: bool) -> Result<Reply, KerberosFailure> {
    let bad = |e: picky_asn1_der::Asn1DerError| {
        KerberosFailure::Protocol(format!("malformed KDC reply: {e}"))
    };
    match bytes.first() {
        Some(0x7e) => Ok(Reply::Error(Box::new(
            picky_asn1_der::from_bytes::<KrbError>(bytes).map_err(bad)?,
        ))),
        Some(0x6b) if !tgs => Ok(Reply::Rep(
            picky_asn1_der::from_bytes::<AsRep>(bytes).map_err(bad)?.0,
        )),
        Some(0x6d) if tgs => Ok(Reply::Rep(
            picky_asn1_der::from_bytes::<TgsRep>(bytes).map_err(bad)?.0,
        )),
        other => Err(KerberosFailure::Protocol(format!(
            "unexpected KDC reply (first byte {other:?})"
        ))),
    }
}

/// Decodes an EncASRepPart or EncTGSRepPart (KDCs use either tag for either reply).
fn decode_enc_part(plain: &[u8]) -> Result<EncKdcRepPart, KerberosFailure> {
    let bad = |e: picky_asn1_der::Asn1DerError| {
        KerberosFailure::Protocol(format!("malformed encrypted KDC reply part: {e}"))
    };
    match plain.first() {
        Some(0x79) => Ok(
            picky_asn1_der::from_bytes::<ApplicationTag<EncKdcRepPart, 25>>(plain)
                .map_err(bad)?
                .0,
        ),
        Some(0x7a) => Ok(
            picky_asn1_der::from_bytes::<ApplicationTag<EncKdcRepPart, 26>>(plain)
                .map_err(bad)?
                .0,
        ),
        _ => Err(KerberosFailure::Protocol(
            "the encrypted KDC reply part has an unknown tag".into(),
        )),
    }
}

fn krb_error(err: &KrbError, client: &str, service: &str) -> KerberosFailure {
    let text = err
        .0
        .e_text
        .0
        .as_ref()
        .map(|t| String::from_utf8_lossy(t.0.0.as_bytes()).into_owned());
    from_code(err.0.error_code.0, text, client, service)
}

/// The ETYPE-INFO2 entries of a PREAUTH_REQUIRED error's METHOD-DATA or a reply's padata.
fn etype_info2(padata: &[PaData]) -> Vec<(i32, Option<String>)> {
    padata
        .iter()
        .filter(|p| int_value(&p.padata_type.0) == i64::from(PA_ETYPE_INFO2))
        .filter_map(|p| picky_asn1_der::from_bytes::<EtypeInfo2>(&p.padata_data.0.0).ok())
        .flat_map(|info| info.0)
        .map(|e| {
            let salt = e
                .salt
                .0
                .as_ref()
                .map(|s| String::from_utf8_lossy(s.0.0.as_bytes()).into_owned());
            (int_value(&e.etype.0) as i32, salt)
        })
        .collect()
}

/// The client's long-term keys: from the keytab (all etypes at once), or derived from
/// the password with the salt the KDC names.
struct ClientKeys<'a> {
    settings: &'a ResolvedKerberos,
    keytab: Vec<EncKey>,
}

impl ClientKeys<'_> {
    fn offered(&self) -> Vec<i32> {
        match &self.settings.key {
            KerberosKey::Keytab(_) => ETYPES
                .iter()
                .copied()
                .filter(|e| self.keytab.iter().any(|k| k.etype == *e))
                .collect(),
            KerberosKey::Password(_) => ETYPES.to_vec(),
        }
    }

    fn key(&self, etype: i32, salt: Option<&str>) -> Result<EncKey, KerberosFailure> {
        match &self.settings.key {
            KerberosKey::Keytab(path) => self
                .keytab
                .iter()
                .find(|k| k.etype == etype)
                .cloned()
                .ok_or_else(|| KerberosFailure::Keytab {
                    path: path.display().to_string(),
                    reason: format!("no key of encryption type {etype}, which the KDC chose"),
                }),
            KerberosKey::Password(password) => {
                let default_salt = format!(
                    "{}{}",
                    self.settings.realm,
                    self.settings.name.replace('/', "")
                );
                let salt = salt.unwrap_or(&default_salt);
                let suite = CipherSuite::try_from(etype as usize).map_err(|_| {
                    KerberosFailure::Protocol(format!("the KDC chose encryption type {etype}"))
                })?;
                let value = suite
                    .cipher()
                    .generate_key_from_password(password.expose().as_bytes(), salt.as_bytes())
                    .map_err(|e| KerberosFailure::Protocol(format!("string-to-key failed: {e}")))?;
                Ok(EncKey::new(etype, value))
            }
        }
    }
}

impl ResolvedKerberos {
    fn client_principal(&self) -> String {
        format!("{}@{}", self.name, self.realm)
    }
}

/// Logs in: the AS exchange, with pre-authentication when the KDC asks for it.
pub(crate) async fn login(settings: &ResolvedKerberos) -> Result<ServiceTicket, KerberosFailure> {
    let keytab = match &settings.key {
        KerberosKey::Keytab(path) => {
            super::keytab::keys_for(path, &settings.name, &settings.realm)?
        }
        KerberosKey::Password(_) => Vec::new(),
    };
    let keys = ClientKeys { settings, keytab };
    let client_name = settings.client_principal();
    let tgs_name = format!("krbtgt/{}@{}", settings.realm, settings.realm);
    let offered = keys.offered();
    if offered.is_empty() {
        return Err(KerberosFailure::Keytab {
            path: match &settings.key {
                KerberosKey::Keytab(p) => p.display().to_string(),
                KerberosKey::Password(_) => String::new(),
            },
            reason: format!("no AES key (encryption types {ETYPES:?}) for {client_name}"),
        });
    }
    let mut padata: Option<PaData> = None;
    for _ in 0..2 {
        let n = nonce()?;
        let req = as_req(settings, &offered, n, padata.take())?;
        let reply = transport::send(&settings.kdcs, &der(&req)?).await?;
        match decode_reply(&reply, false)? {
            Reply::Rep(rep) => return finish_as(&keys, rep, n, &client_name),
            Reply::Error(err) if err.0.error_code.0 == KDC_ERR_PREAUTH_REQUIRED => {
                let methods: Vec<PaData> = err
                    .0
                    .e_data
                    .0
                    .as_ref()
                    .and_then(|d| picky_asn1_der::from_bytes::<Asn1SequenceOf<PaData>>(&d.0.0).ok())
                    .map(|s| s.0)
                    .unwrap_or_default();
                let info = etype_info2(&methods);
                let (etype, salt) = info
                    .iter()
                    .find(|(e, _)| offered.contains(e))
                    .cloned()
                    .ok_or_else(|| {
                        KerberosFailure::Protocol(format!(
                            "the KDC offers none of the encryption types {offered:?} for \
                             pre-authentication of {client_name}"
                        ))
                    })?;
                let key = keys.key(etype, salt.as_deref())?;
                let now = KrbTime::now();
                let ts = PaEncTsEnc {
                    patimestamp: ExplicitContextTag0::from(now.to_asn1()),
                    pausec: Optional::from(Some(ExplicitContextTag1::from(int(now.micros)))),
                };
                let enc = encrypted(&key, 1, &der(&ts)?)?;
                padata = Some(PaData {
                    padata_type: ExplicitContextTag1::from(int(PA_ENC_TIMESTAMP)),
                    padata_data: ExplicitContextTag2::from(OctetStringAsn1::from(der(&enc)?)),
                });
            }
            Reply::Error(err) => return Err(krb_error(&err, &client_name, &tgs_name)),
        }
    }
    Err(KerberosFailure::Protocol(format!(
        "the KDC asked for pre-authentication of {client_name} twice"
    )))
}

fn as_req(
    settings: &ResolvedKerberos,
    etypes: &[i32],
    nonce: u32,
    padata: Option<PaData>,
) -> Result<ApplicationTag<KdcReq, 10>, KerberosFailure> {
    let components: Vec<&str> = settings.name.split('/').collect();
    let body = KdcReqBody {
        kdc_options: ExplicitContextTag0::from(flags([0, 0, 0, 0])),
        cname: Optional::from(Some(ExplicitContextTag1::from(principal(
            NT_PRINCIPAL,
            &components,
        )?))),
        realm: ExplicitContextTag2::from(kstring(&settings.realm)?),
        sname: Optional::from(Some(ExplicitContextTag3::from(principal(
            NT_SRV_INST,
            &["krbtgt", &settings.realm],
        )?))),
        from: Optional::from(None),
        till: ExplicitContextTag5::from(
            KrbTime::now().plus_secs(REQUESTED_LIFETIME_SECS).to_asn1(),
        ),
        rtime: Optional::from(None),
        nonce: ExplicitContextTag7::from(int(nonce)),
        etype: ExplicitContextTag8::from(Asn1SequenceOf::from(
            etypes.iter().map(|e| int(*e as u32)).collect::<Vec<_>>(),
        )),
        addresses: Optional::from(None),
        enc_authorization_data: Optional::from(None),
        additional_tickets: Optional::from(None),
    };
    Ok(ApplicationTag(KdcReq {
        pvno: ExplicitContextTag1::from(int(5)),
        msg_type: ExplicitContextTag2::from(int(10)),
        padata: Optional::from(
            padata.map(|p| ExplicitContextTag3::from(Asn1SequenceOf::from(vec![p]))),
        ),
        req_body: ExplicitContextTag4::from(body),
    }))
}

fn finish_as(
    keys: &ClientKeys<'_>,
    rep: KdcRep,
    nonce: u32,
    client_name: &str,
) -> Result<ServiceTicket, KerberosFailure> {
    let etype = int_value(&rep.enc_part.0.etype.0) as i32;
    let salt = rep
        .padata
        .0
        .as_ref()
        .map(|p| etype_info2(&p.0.0))
        .unwrap_or_default()
        .into_iter()
        .find(|(e, _)| *e == etype)
        .and_then(|(_, s)| s);
    let key = keys.key(etype, salt.as_deref())?;
    let plain = key.decrypt(3, &rep.enc_part.0.cipher.0.0)?.ok_or_else(|| {
        KerberosFailure::PreauthFailed {
            principal: client_name.to_owned(),
        }
    })?;
    ticket_from(rep, &plain, nonce)
}

fn ticket_from(rep: KdcRep, plain: &[u8], nonce: u32) -> Result<ServiceTicket, KerberosFailure> {
    let part = decode_enc_part(plain)?;
    if int_value(&part.nonce.0) != i64::from(nonce) {
        return Err(KerberosFailure::Protocol(
            "the KDC's reply is for another request (nonce mismatch)".into(),
        ));
    }
    let start = match part.start_time.0.as_ref() {
        Some(t) => KrbTime::from_asn1(&t.0)?,
        None => KrbTime::from_asn1(&part.auth_time.0)?,
    };
    let end = KrbTime::from_asn1(&part.end_time.0)?;
    Ok(ServiceTicket {
        ticket: rep.ticket.0,
        session_key: EncKey::from_asn1(&part.key.0),
        client: rep.cname.0,
        client_realm: String::from_utf8_lossy(rep.crealm.0.0.as_bytes()).into_owned(),
        lifetime_secs: (end.secs - start.secs).max(0),
    })
}

/// An authenticator for `tgt`'s client, encrypted with its session key (`usage`).
pub(crate) fn authenticator(
    creds: &ServiceTicket,
    usage: i32,
    cksum: Option<Checksum>,
    seq_number: Option<u32>,
    now: KrbTime,
) -> Result<EncryptedData, KerberosFailure> {
    let auth: Authenticator = ApplicationTag(AuthenticatorInner {
        authenticator_vno: ExplicitContextTag0::from(int(5)),
        crealm: ExplicitContextTag1::from(kstring(&creds.client_realm)?),
        cname: ExplicitContextTag2::from(creds.client.clone()),
        cksum: Optional::from(cksum.map(ExplicitContextTag3::from)),
        cusec: ExplicitContextTag4::from(int(now.micros)),
        ctime: ExplicitContextTag5::from(now.to_asn1()),
        subkey: Optional::from(None),
        seq_number: Optional::from(seq_number.map(|s| ExplicitContextTag7::from(int(s)))),
        authorization_data: Optional::from(None),
    });
    encrypted(&creds.session_key, usage, &der(&auth)?)
}

/// An AP-REQ presenting `creds` with the given options and authenticator.
pub(crate) fn ap_req(
    creds: &ServiceTicket,
    options: [u8; 4],
    authenticator: EncryptedData,
) -> Result<Vec<u8>, KerberosFailure> {
    let req: ApReq = ApplicationTag(ApReqInner {
        pvno: ExplicitContextTag0::from(int(5)),
        msg_type: ExplicitContextTag1::from(int(14)),
        ap_options: ExplicitContextTag2::from(flags(options)),
        ticket: ExplicitContextTag3::from(creds.ticket.clone()),
        authenticator: ExplicitContextTag4::from(authenticator),
    });
    der(&req)
}

/// Asks the KDC for a ticket to `service/host` in the TGT's realm.
pub(crate) async fn service_ticket(
    settings: &ResolvedKerberos,
    tgt: &ServiceTicket,
    service: &str,
    host: &str,
) -> Result<ServiceTicket, KerberosFailure> {
    let client_name = settings.client_principal();
    let service_name = format!("{service}/{host}@{}", settings.realm);
    let n = nonce()?;
    let body = KdcReqBody {
        kdc_options: ExplicitContextTag0::from(flags([0, 0, 0, 0])),
        cname: Optional::from(None),
        realm: ExplicitContextTag2::from(kstring(&settings.realm)?),
        sname: Optional::from(Some(ExplicitContextTag3::from(principal(
            NT_SRV_INST,
            &[service, host],
        )?))),
        from: Optional::from(None),
        till: ExplicitContextTag5::from(
            KrbTime::now().plus_secs(REQUESTED_LIFETIME_SECS).to_asn1(),
        ),
        rtime: Optional::from(None),
        nonce: ExplicitContextTag7::from(int(n)),
        etype: ExplicitContextTag8::from(Asn1SequenceOf::from(
            ETYPES.iter().map(|e| int(*e as u32)).collect::<Vec<_>>(),
        )),
        addresses: Optional::from(None),
        enc_authorization_data: Optional::from(None),
        additional_tickets: Optional::from(None),
    };
    let (_, cksum_type) = tgt.session_key.checksum_suite()?;
    let cksum = Checksum {
        cksumtype: ExplicitContextTag0::from(int(cksum_type as u32)),
        checksum: ExplicitContextTag1::from(OctetStringAsn1::from(
            tgt.session_key.checksum(6, &der(&body)?)?,
        )),
    };
    let auth = authenticator(tgt, 7, Some(cksum), None, KrbTime::now())?;
    let ap = ap_req(tgt, [0, 0, 0, 0], auth)?;
    let req: ApplicationTag<KdcReq, 12> = ApplicationTag(KdcReq {
        pvno: ExplicitContextTag1::from(int(5)),
        msg_type: ExplicitContextTag2::from(int(12)),
        padata: Optional::from(Some(ExplicitContextTag3::from(Asn1SequenceOf::from(vec![
            PaData {
                padata_type: ExplicitContextTag1::from(int(PA_TGS_REQ)),
                padata_data: ExplicitContextTag2::from(OctetStringAsn1::from(ap)),
            },
        ])))),
        req_body: ExplicitContextTag4::from(body),
    });
    let reply = transport::send(&settings.kdcs, &der(&req)?).await?;
    match decode_reply(&reply, true)? {
        Reply::Rep(rep) => {
            let plain = tgt
                .session_key
                .decrypt(8, &rep.enc_part.0.cipher.0.0)?
                .ok_or_else(|| {
                    KerberosFailure::Protocol(
                        "the TGS reply does not decrypt with the TGT's session key".into(),
                    )
                })?;
            ticket_from(rep, &plain, n)
        }
        Reply::Error(err) => Err(krb_error(&err, &client_name, &service_name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip() {
        for v in [0u32, 5, 127, 128, 0x8003, 0x7fff_ffff, u32::MAX] {
            assert_eq!(int_value(&int(v)), i64::from(v), "{v}");
        }
    }

    #[test]
    fn keys_encrypt_and_reject_a_wrong_key() {
        let k = EncKey::new(18, vec![7; 32]);
        let c = k.encrypt(11, b"hello").unwrap();
        assert_eq!(k.decrypt(11, &c).unwrap().as_deref(), Some(&b"hello"[..]));
        assert_eq!(EncKey::new(18, vec![8; 32]).decrypt(11, &c).unwrap(), None);
        assert_eq!(k.decrypt(12, &c).unwrap(), None, "another key usage");
        assert!(!format!("{k:?}").contains('7'));
    }
}
