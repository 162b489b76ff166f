//! Record-batch decoding as the consumer does it: split batches, parse each (CRC,
//! header), decompress (bounded) and iterate its records. Must never panic or abort.
#![no_main]

use bytes::Bytes;
use kafka_client::records::{DecodeLimits, decode_batches};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Skip CRCs half of the time so the fuzzer gets past them.
    let verify_crc = data.first().is_some_and(|b| b & 1 == 1);
    let limits = DecodeLimits {
        verify_crc,
        max_decompressed_bytes: 4 << 20,
        ..DecodeLimits::default()
    };
    let input = Bytes::copy_from_slice(data.get(1..).unwrap_or_default());
    for batch in decode_batches(input, limits) {
        let Ok(batch) = batch else { break };
        if let Ok(records) = batch.records() {
            for record in records {
                if record.is_err() {
                    break;
                }
            }
        }
    }
});
