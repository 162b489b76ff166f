//! Response decoding as the connection task does it: shape walk, header, kafka-protocol
//! body decode. Input: byte 0 picks the API, byte 1 the version, the rest is the frame
//! from the correlation id on. Must never panic or abort, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kafka_client::fuzzing::response_input(data));
