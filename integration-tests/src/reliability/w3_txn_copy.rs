//! W3: transactional copy with a concurrent `read_committed` verifier.
//!
//! **Not implemented yet: a stub.** The transactional producer is being written on
//! another branch. When it lands, this is the hook to fill in:
//!
//! 1. pre-produce `records` values `0..records` to an input topic (direct listeners);
//! 2. a copier (consumer in a group + transactional producer, both through the fault
//!    proxies) reads a batch, produces it to an output topic, sends the consumer's
//!    offsets with `TxnOffsetCommit` and commits (`EndTxn`); on an abortable error it
//!    aborts and rewinds to the committed offsets; after a commit whose outcome is
//!    unknown it must re-initialise (I9) rather than reuse the epoch;
//! 3. a concurrent `read_committed` consumer of the output counts what it sees, and must
//!    never see a record of an aborted transaction (I5: `aborted_reads`);
//! 4. the verifier checks output set = input set, 0 duplicates (I2), order per
//!    partition (I3) and one value per offset (I6).
//!
//! Faults that matter most: drop the `EndTxn` and `TxnOffsetCommit` responses, SIGKILL
//! the transaction coordinator, cut the copier's connections.

use std::time::Duration;

use super::faults::{Fault, FaultReport};
use super::{Counts, Env};

/// W3's shape (used once W3 exists).
#[derive(Debug, Clone)]
pub struct W3Config {
    /// Records copied.
    pub records: usize,
    /// Records per transaction.
    pub per_transaction: usize,
    /// Partitions of the input and output topics.
    pub partitions: i32,
    /// Give up after this long.
    pub bound: Duration,
}

impl Default for W3Config {
    fn default() -> Self {
        Self {
            records: 20_000,
            per_transaction: 200,
            partitions: 6,
            bound: Duration::from_secs(240),
        }
    }
}

/// Whether W3 is implemented (the matrix skips it while `false`).
pub const W3_IMPLEMENTED: bool = false;

/// The W3 hook: reports "not implemented" until the transactional producer exists.
pub async fn run_w3(
    _env: &Env,
    _cfg: &W3Config,
    _fault: Fault,
) -> (Result<Counts, String>, Option<FaultReport>) {
    (
        Err("W3 (transactional copy) is not implemented: the transactional producer does not exist yet".into()),
        None,
    )
}
