//! A short, deterministic fuzz pass that runs with the unit tests (so in CI, where
//! `cargo fuzz` is not installed): every seed of the committed corpus in `fuzz/corpus/`
//! (captured from the real broker) and a fixed number of mutations of it go through the
//! same entry points as the `cargo fuzz` targets. Any panic fails the test and names the
//! seed and the mutation; an allocation abort (the failure the shape walker exists to
//! prevent) fails the whole test binary.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use super::fuzzing::{record_batches_input, response_input};

/// Mutations per seed: 360,000 inputs over the 18 seeds, a few seconds in a debug build.
const MUTATIONS: usize = 20_000;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading the fuzz corpus {}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).expect("corpus file"))
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

/// One to four edits of the kinds that break decoders: bit flips, boundary bytes,
/// boundary 32-bit values over a length or count field, truncation, a duplicated slice.
fn mutate(rng: &mut fastrand::Rng, seed: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..rng.usize(1..=4) {
        if data.is_empty() {
            data.push(rng.u8(..));
            continue;
        }
        let at = rng.usize(..data.len());
        match rng.u8(..6) {
            0 => data[at] ^= 1 << rng.u8(..8),
            1 => data[at] = [0x00, 0x7f, 0x80, 0xff][rng.usize(..4)],
            2 => {
                let value: i32 = [i32::MAX, -1, i32::MIN, 0x00ff_ffff, 1 << 20][rng.usize(..5)];
                let end = (at + 4).min(data.len());
                data[at..end].copy_from_slice(&value.to_be_bytes()[..end - at]);
            }
            3 => data.truncate(at),
            4 => {
                let end = rng.usize(at..=data.len().min(at + 64));
                let slice = data[at..end].to_vec();
                data.splice(at..at, slice);
            }
            _ => data.insert(at, rng.u8(..)),
        }
    }
    data
}

/// Runs `check` on every seed of `target` and on [`MUTATIONS`] mutations of each.
fn pass(target: &str, check: impl Fn(&[u8])) -> usize {
    let mut rng = fastrand::Rng::with_seed(0x006b_6166_6b61);
    let mut runs = 0;
    for (name, seed) in corpus(target) {
        for i in 0..=MUTATIONS {
            let input = if i == 0 {
                seed.clone()
            } else {
                mutate(&mut rng, &seed)
            };
            if catch_unwind(AssertUnwindSafe(|| check(&input))).is_err() {
                panic!(
                    "{target}: seed {name}, mutation {i} panicked; input {} bytes: {:02x?}",
                    input.len(),
                    &input[..input.len().min(256)]
                );
            }
            runs += 1;
        }
    }
    runs
}

#[test]
fn response_decoding_survives_mutated_broker_traffic() {
    let runs = pass("response_decode", response_input);
    assert!(runs > MUTATIONS, "{runs} inputs decoded");
}

#[test]
fn record_batch_decoding_survives_mutated_batches() {
    let runs = pass("record_batches", record_batches_input);
    assert!(runs > MUTATIONS, "{runs} inputs decoded");
}
