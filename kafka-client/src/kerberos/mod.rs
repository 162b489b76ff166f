//! Kerberos 5 for SASL `GSSAPI`, in Rust: the client's half of the AS exchange (login
//! with a keytab key or a password, PA-ENC-TIMESTAMP pre-authentication) and the TGS
//! exchange (service tickets), over TCP to the KDC (RFC 4120), plus the ticket caches
//! that re-acquire tickets before they expire. Messages (ASN.1 DER) and crypto
//! (RFC 3961/3962 AES-CTS-HMAC-SHA1-96) come from `picky-krb`; see docs/DESIGN.md for
//! why. The GSS-API/SASL layer on top is `net/sasl/gssapi.rs`.
//!
//! Without the `gssapi` feature only the configuration parts (`krb5_conf.rs`) and the
//! error type are built; choosing `GSSAPI` then fails at build with a clear message.

mod failure;
mod krb5_conf;

#[cfg(feature = "gssapi")]
mod exchange;
#[cfg(feature = "gssapi")]
mod keytab;
#[cfg(feature = "gssapi")]
mod login;
#[cfg(feature = "gssapi")]
mod renewal;
#[cfg(feature = "gssapi")]
mod time;
#[cfg(feature = "gssapi")]
mod transport;

#[cfg(all(test, feature = "gssapi"))]
pub(crate) use exchange::kstring;
#[cfg(feature = "gssapi")]
pub(crate) use exchange::{EncKey, ServiceTicket, ap_req, authenticator, int, int_value};
pub use failure::KerberosFailure;
#[cfg(feature = "gssapi")]
pub(crate) use failure::error_name;
pub(crate) use krb5_conf::Krb5Conf;
#[cfg(feature = "gssapi")]
pub(crate) use login::Login;
#[cfg(feature = "gssapi")]
pub(crate) use time::KrbTime;
