//! Delivery results: one completion cell per batch, shared by the futures of all its
//! records, so sending a record allocates nothing for its result.
//!
//! A cell settles exactly once: `Done` with the batch's base offset (or an error), or
//! `Split` when the broker refused the batch as too large and it was re-sent as smaller
//! batches; a record's future then follows its record into the part that holds it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::record::RecordMetadata;
use crate::error::{Error, Result};

/// What the broker said about a whole batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BatchAck {
    /// Offset of the batch's first record; -1 when unknown (acks=0).
    pub base_offset: i64,
    /// The broker's log-append time, when the topic uses it.
    pub log_append_time: Option<i64>,
}

enum State {
    Pending(Vec<Waker>),
    Done(Result<BatchAck>),
    /// The batch was split: `(index of the part's first record, part)`, in order.
    Split(Vec<(u32, Arc<BatchCompletion>)>),
}

/// The completion cell of one batch.
pub(crate) struct BatchCompletion {
    topic: Arc<str>,
    partition: i32,
    state: Mutex<State>,
}

impl std::fmt::Debug for BatchCompletion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchCompletion")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("settled", &self.is_settled())
            .finish()
    }
}

/// How a wait for a batch ended.
pub(crate) enum Settled {
    Done,
    Split(Vec<Arc<BatchCompletion>>),
}

impl BatchCompletion {
    pub(crate) fn new(topic: Arc<str>, partition: i32) -> Arc<Self> {
        Arc::new(BatchCompletion {
            topic,
            partition,
            state: Mutex::new(State::Pending(Vec::new())),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn topic(&self) -> &Arc<str> {
        &self.topic
    }

    pub(crate) fn partition(&self) -> i32 {
        self.partition
    }

    /// Whether the cell has settled (done or split).
    pub(crate) fn is_settled(&self) -> bool {
        !matches!(*self.lock(), State::Pending(_))
    }

    fn settle(&self, next: State) -> bool {
        let wakers = {
            let mut st = self.lock();
            match &mut *st {
                State::Pending(w) => {
                    let w = std::mem::take(w);
                    *st = next;
                    w
                }
                _ => return false,
            }
        };
        for w in wakers {
            w.wake();
        }
        true
    }

    /// Settles with `result`; returns false (and changes nothing) if already settled.
    pub(crate) fn complete(&self, result: Result<BatchAck>) -> bool {
        self.settle(State::Done(result))
    }

    /// Settles as split into `parts` (each with the index of its first record).
    pub(crate) fn split(&self, parts: Vec<(u32, Arc<BatchCompletion>)>) -> bool {
        self.settle(State::Split(parts))
    }

    /// Registers `waker` (reusing `slot` when this future registered before).
    fn register(wakers: &mut Vec<Waker>, slot: &mut Option<usize>, waker: &Waker) {
        match *slot {
            Some(i) if i < wakers.len() => {
                if !wakers[i].will_wake(waker) {
                    wakers[i] = waker.clone();
                }
            }
            _ => {
                *slot = Some(wakers.len());
                wakers.push(waker.clone());
            }
        }
    }

    /// Polls until the cell settles.
    pub(crate) fn poll_settled(
        &self,
        cx: &mut Context<'_>,
        slot: &mut Option<usize>,
    ) -> Poll<Settled> {
        let mut st = self.lock();
        match &mut *st {
            State::Pending(wakers) => {
                Self::register(wakers, slot, cx.waker());
                Poll::Pending
            }
            State::Done(_) => Poll::Ready(Settled::Done),
            State::Split(parts) => Poll::Ready(Settled::Split(
                parts.iter().map(|(_, p)| p.clone()).collect(),
            )),
        }
    }
}

/// Waits until every batch in `batches` (and every part of a split one) has settled.
pub(crate) async fn wait_settled(mut batches: Vec<Arc<BatchCompletion>>) {
    while let Some(b) = batches.pop() {
        let mut slot = None;
        let settled = std::future::poll_fn(|cx| b.poll_settled(cx, &mut slot)).await;
        if let Settled::Split(parts) = settled {
            batches.extend(parts);
        }
    }
}

/// Resolves when the broker has acknowledged the record (or sending it failed for
/// good): to where it was written, or a typed [`Error`].
///
/// Returned by [`Producer::send`](super::Producer::send). The record is delivered
/// whether or not this future is polled; dropping it only discards the result.
#[must_use = "the future resolves to the record's delivery result"]
pub struct DeliveryFuture {
    batch: Arc<BatchCompletion>,
    index: u32,
    timestamp: i64,
    slot: Option<usize>,
}

impl std::fmt::Debug for DeliveryFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryFuture")
            .field("topic", &self.batch.topic)
            .field("partition", &self.batch.partition)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl DeliveryFuture {
    pub(crate) fn new(batch: Arc<BatchCompletion>, index: u32, timestamp: i64) -> Self {
        DeliveryFuture {
            batch,
            index,
            timestamp,
            slot: None,
        }
    }

    /// The partition the record was queued for.
    pub fn partition(&self) -> i32 {
        self.batch.partition
    }

    /// The record's create timestamp (milliseconds since the Unix epoch).
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            let next = {
                let mut st = this.batch.lock();
                match &mut *st {
                    State::Pending(wakers) => {
                        BatchCompletion::register(wakers, &mut this.slot, cx.waker());
                        return Poll::Pending;
                    }
                    State::Done(Ok(ack)) => {
                        let offset = if ack.base_offset >= 0 {
                            ack.base_offset + i64::from(this.index)
                        } else {
                            -1
                        };
                        return Poll::Ready(Ok(RecordMetadata {
                            topic: this.batch.topic.clone(),
                            partition: this.batch.partition,
                            offset,
                            timestamp: ack.log_append_time.unwrap_or(this.timestamp),
                        }));
                    }
                    State::Done(Err(e)) => return Poll::Ready(Err(e.clone())),
                    State::Split(parts) => {
                        // The last part whose first index is at or before ours holds us.
                        let at = parts
                            .iter()
                            .rposition(|(first, _)| *first <= this.index)
                            .unwrap_or(0);
                        match parts.get(at) {
                            Some((first, part)) => {
                                (this.index - (*first).min(this.index), part.clone())
                            }
                            None => {
                                return Poll::Ready(Err(Error::Protocol {
                                    context: Default::default(),
                                    message: "split batch with no parts".into(),
                                }));
                            }
                        }
                    }
                }
            };
            (this.index, this.batch) = next;
            this.slot = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn futures_follow_splits_and_settle_once() {
        let whole = BatchCompletion::new("t".into(), 3);
        let mut futs: Vec<DeliveryFuture> = (0..5)
            .map(|i| DeliveryFuture::new(whole.clone(), i, 100 + i64::from(i)))
            .collect();
        assert!(
            futs[0]
                .poll_unpin(&mut Context::from_waker(Waker::noop()))
                .is_pending()
        );
        let a = BatchCompletion::new("t".into(), 3);
        let b = BatchCompletion::new("t".into(), 3);
        assert!(whole.split(vec![(0, a.clone()), (2, b.clone())]));
        assert!(!whole.complete(Ok(BatchAck {
            base_offset: 0,
            log_append_time: None
        })));
        assert!(a.complete(Ok(BatchAck {
            base_offset: 10,
            log_append_time: None
        })));
        assert!(b.complete(Err(Error::Closed)));
        let cx = &mut Context::from_waker(Waker::noop());
        let got: Vec<_> = futs
            .iter_mut()
            .map(|f| match f.poll_unpin(cx) {
                Poll::Ready(r) => r,
                Poll::Pending => panic!("settled"),
            })
            .collect();
        assert_eq!(got[0].as_ref().unwrap().offset, 10);
        assert_eq!(got[1].as_ref().unwrap().offset, 11);
        assert_eq!(got[1].as_ref().unwrap().timestamp, 101);
        assert!(matches!(got[2], Err(Error::Closed)));
        assert!(matches!(got[4], Err(Error::Closed)));
    }

    #[test]
    fn acks_zero_has_no_offset_and_log_append_time_wins() {
        let c = BatchCompletion::new("t".into(), 0);
        let f = DeliveryFuture::new(c.clone(), 1, 5);
        c.complete(Ok(BatchAck {
            base_offset: -1,
            log_append_time: Some(99),
        }));
        let m = f.now_or_never().unwrap().unwrap();
        assert_eq!((m.offset, m.timestamp), (-1, 99));
    }
}
