//! Per-partition lag (`Consumer::stats`): the end of what may be read minus the
//! position, by isolation level.

use std::sync::Arc;

use crate::consumer::builder::IsolationLevel;
use crate::consumer::stats::lag;
use crate::consumer::{Consumer, Handle};

use super::{ready, shared_with, tp};

#[test]
fn lag_is_measured_to_the_high_watermark_or_the_last_stable_offset() {
    let ru = shared_with(|b| b);
    let rc = shared_with(|b| b.isolation_level(IsolationLevel::ReadCommitted));
    let mut p = ready("t", 4);
    p.high_watermark = 10;
    p.last_stable_offset = 8;
    assert_eq!(lag(&ru.config, &p), Some(6));
    assert_eq!(lag(&rc.config, &p), Some(4));
}

#[test]
fn lag_is_unknown_without_a_position_or_an_end() {
    let sh = shared_with(|b| b);
    let mut p = ready("t", 4);
    assert_eq!(lag(&sh.config, &p), None, "no fetch answer yet");
    p.high_watermark = 10;
    p.position = -1;
    assert_eq!(lag(&sh.config, &p), None, "no position yet");
    p.position = 0;
    p.high_watermark = 0;
    assert_eq!(
        lag(&sh.config, &p),
        Some(0),
        "an empty partition has no lag"
    );
}

#[test]
fn lag_is_never_negative() {
    let sh = shared_with(|b| b);
    let mut p = ready("t", 12);
    p.high_watermark = 10;
    assert_eq!(lag(&sh.config, &p), Some(0));
}

#[tokio::test]
async fn stats_list_the_lag_of_partitions_where_it_is_known() {
    let sh = shared_with(|b| b);
    {
        let mut st = sh.lock();
        let mut known = ready("t", 3);
        known.high_watermark = 7;
        st.fixture_partition(tp("t", 0), known);
        st.fixture_partition(tp("t", 1), ready("t", 3));
    }
    let c = Consumer {
        inner: Arc::new(Handle {
            shared: sh,
            runtime: tokio::runtime::Handle::current(),
        }),
    };
    let s = c.stats();
    assert_eq!(s.lag.len(), 1);
    assert_eq!(s.lag[&tp("t", 0)], 4);
}
