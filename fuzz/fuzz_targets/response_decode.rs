//! Response decoding as the connection task does it: shape walk, header, kafka-protocol
//! body decode. Input: byte 0 picks the API, byte 1 the version, the rest is the frame
//! from the correlation id on. Must never panic or abort, whatever the bytes.
#![no_main]

use bytes::Bytes;
use kafka_client::net::fuzzing::{apis, decode_response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [a, v, frame @ ..] = data else {
        return;
    };
    let apis = apis();
    let (key, min, max) = apis[usize::from(*a) % apis.len()];
    let version = min + i16::from(*v) % (max - min + 1);
    let _ = decode_response(key, version, Bytes::copy_from_slice(frame));
});
