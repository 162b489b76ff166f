//! Bounded pre-decode check of broker responses ("shape" check).
//!
//! kafka-protocol's array decoders reserve `Vec::with_capacity(count)` with the count
//! taken straight from the wire, so one hostile array count of 2^31 makes the process
//! abort on allocation failure before any error can be returned. Before a response is
//! handed to kafka-protocol, [`check_response`] walks it with a small declarative
//! layout of that API and version ([`layout`], tables in `client_apis` and
//! `admin_apis`) and rejects, with a message naming the API, version and field:
//! - an array count larger than the bytes left divided by the element's minimum size,
//! - a string or bytes length larger than the bytes left,
//! - a negative length other than -1 (null), an unsigned varint longer than 5 bytes,
//! - a tagged field whose content does not fill exactly its declared size,
//! - trailing bytes, or an API or version without a layout.
//!
//! The walk allocates nothing and touches only length prefixes and tags (record data is
//! skipped as one bytes field), so its cost is proportional to the number of fields,
//! not to the frame size.

mod admin_apis;
mod client_apis;
pub(crate) mod layout;
mod walk;

#[cfg(test)]
mod built_tests;

#[cfg(test)]
mod tests;

use layout::Api;

use super::Fault;

/// Every API whose responses this client decodes.
pub(crate) const APIS: &[&Api] = &[
    &client_apis::PRODUCE,
    &client_apis::FETCH,
    &client_apis::LIST_OFFSETS,
    &client_apis::METADATA,
    &client_apis::OFFSET_COMMIT,
    &client_apis::OFFSET_FETCH,
    &client_apis::FIND_COORDINATOR,
    &client_apis::JOIN_GROUP,
    &client_apis::HEARTBEAT,
    &client_apis::LEAVE_GROUP,
    &client_apis::SYNC_GROUP,
    &client_apis::SASL_HANDSHAKE,
    &client_apis::API_VERSIONS,
    &client_apis::SASL_AUTHENTICATE,
    &client_apis::INIT_PRODUCER_ID,
    &client_apis::ADD_PARTITIONS_TO_TXN,
    &client_apis::ADD_OFFSETS_TO_TXN,
    &client_apis::END_TXN,
    &client_apis::TXN_OFFSET_COMMIT,
    &admin_apis::CREATE_TOPICS,
    &admin_apis::DELETE_TOPICS,
    &admin_apis::DELETE_RECORDS,
    &admin_apis::DESCRIBE_GROUPS,
    &admin_apis::LIST_GROUPS,
    &admin_apis::DESCRIBE_ACLS,
    &admin_apis::CREATE_ACLS,
    &admin_apis::DELETE_ACLS,
    &admin_apis::DESCRIBE_CONFIGS,
    &admin_apis::CREATE_PARTITIONS,
    &admin_apis::DELETE_GROUPS,
    &admin_apis::INCREMENTAL_ALTER_CONFIGS,
    &admin_apis::OFFSET_DELETE,
    &admin_apis::DESCRIBE_CLUSTER,
    &admin_apis::CONSUMER_GROUP_DESCRIBE,
];

/// The layout of API `key`, if this client has one.
pub(crate) fn layout(key: i16) -> Option<&'static Api> {
    APIS.iter().copied().find(|a| a.key == key)
}

/// Checks a whole response frame, starting at the correlation id, whose header has
/// `header_version` (1 adds a tag buffer) and whose body is API `key` at `version`.
pub(crate) fn check_response(
    key: i16,
    version: i16,
    header_version: i16,
    frame: &[u8],
) -> Result<(), Fault> {
    // An API the SDK itself never sends (a raw `Client::send` of, say, AlterClientQuotas)
    // has no layout: it is decoded unchecked rather than refused. Every API the
    // producer, consumer, admin and handshake use has one (see `layout`).
    if layout(key).is_none() {
        return Ok(());
    }
    let api = find(key, version)?;
    walk::frame(api, version, header_version >= 1, frame)
}

/// Checks a response body (after the header) of API `key` at `version`.
pub(crate) fn check_body(key: i16, version: i16, body: &[u8]) -> Result<(), Fault> {
    let api = find(key, version)?;
    walk::body(api, version, body)
}

fn find(key: i16, version: i16) -> Result<&'static Api, Fault> {
    let api = layout(key).ok_or_else(|| {
        Fault::decode(format!(
            "no response layout for API key {key}: refusing to decode it unchecked"
        ))
    })?;
    if version < api.min || version > api.max {
        return Err(Fault::decode(format!(
            "{} v{version} response: no layout for this version (known {}..={})",
            api.name, api.min, api.max
        )));
    }
    Ok(api)
}
