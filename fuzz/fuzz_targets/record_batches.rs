//! Record-batch decoding as the consumer does it: split batches, parse each (CRC,
//! header), decompress (bounded) and iterate its records. Must never panic or abort.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kafka_client::fuzzing::record_batches_input(data));
