//! What a connection has still to write: small bytes (request headers and fields)
//! coalesced in one buffer, and the large parts a [`Frame`] holds by reference (record
//! batches) queued as they are. One vectored write sends many of them without copying
//! the batches into a write buffer first.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncWrite;

use super::frame::Frame;

/// Most buffers handed to one vectored write.
const MAX_SLICES: usize = 64;

/// Bytes waiting to be written, in order: `chunks`, then `tail`.
#[derive(Debug)]
pub(crate) struct WriteQueue {
    chunks: VecDeque<Bytes>,
    /// Small bytes after the last chunk, still growing.
    tail: BytesMut,
    len: usize,
}

impl WriteQueue {
    /// An empty queue whose coalescing buffer starts at `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        WriteQueue {
            chunks: VecDeque::new(),
            tail: BytesMut::with_capacity(capacity),
            len: 0,
        }
    }

    /// Bytes waiting.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queues a frame: its head bytes are copied (they are small), its spliced parts are
    /// queued by reference.
    pub(crate) fn push(&mut self, frame: Frame) {
        let Frame { head, spliced } = frame;
        self.len += head.len();
        let mut at = 0;
        for (pos, part) in spliced {
            self.tail.extend_from_slice(&head[at..pos]);
            at = pos;
            if !self.tail.is_empty() {
                self.chunks.push_back(self.tail.split().freeze());
            }
            self.len += part.len();
            self.chunks.push_back(part);
        }
        self.tail.extend_from_slice(&head[at..]);
    }

    /// Writes as much as the writer takes in one (vectored) write.
    pub(crate) fn poll_write<W: AsyncWrite + Unpin>(
        &mut self,
        writer: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let mut n = 0;
        for c in self.chunks.iter().take(MAX_SLICES - 1) {
            slices[n] = IoSlice::new(c);
            n += 1;
        }
        if n == self.chunks.len() && !self.tail.is_empty() {
            slices[n] = IoSlice::new(&self.tail);
            n += 1;
        }
        let written = match Pin::new(writer).poll_write_vectored(cx, &slices[..n]) {
            Poll::Ready(Ok(w)) => w,
            other => return other,
        };
        self.consume(written);
        Poll::Ready(Ok(written))
    }

    /// Drops `n` written bytes from the front.
    fn consume(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            match self.chunks.front_mut() {
                Some(c) if c.len() <= n => {
                    n -= c.len();
                    self.chunks.pop_front();
                }
                Some(c) => {
                    c.advance(n);
                    return;
                }
                None => {
                    self.tail.advance(n);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(head: &[u8], spliced: Vec<(usize, Bytes)>) -> Frame {
        Frame {
            head: BytesMut::from(head),
            spliced,
        }
    }

    /// A writer that takes at most `max` bytes per write, vectored.
    struct Trickle {
        out: Vec<u8>,
        max: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.max);
            self.out.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.max - n);
                self.out.extend_from_slice(&b[..take]);
                n += take;
                if n == self.max {
                    break;
                }
            }
            Poll::Ready(Ok(n))
        }
        fn is_write_vectored(&self) -> bool {
            true
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn writes_heads_and_spliced_parts_in_order() {
        let batch = Bytes::from(b"BATCHBATCH".to_vec());
        let mut q = WriteQueue::with_capacity(4);
        q.push(frame(
            b"abcdef",
            vec![(2, batch.clone()), (4, batch.clone())],
        ));
        q.push(frame(b"xyz", vec![]));
        q.push(frame(b"12", vec![(2, batch.clone())]));
        let expected = b"abBATCHBATCHcdBATCHBATCHefxyz12BATCHBATCH".to_vec();
        assert_eq!(q.len(), expected.len());
        let mut w = Trickle {
            out: Vec::new(),
            max: 3,
        };
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        while !q.is_empty() {
            match q.poll_write(&mut w, &mut cx) {
                Poll::Ready(Ok(n)) => assert!(n > 0),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(w.out, expected);
        // The batch is referenced by nothing in the queue any more.
        assert!(batch.is_unique());
    }
}
