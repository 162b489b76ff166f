//! Running the registry client's async calls from the synchronous [`Serializer`] and
//! [`Deserializer`](crate::Deserializer) traits, on a cache miss.
//!
//! On a multi-threaded tokio runtime the call runs with `block_in_place` on the current
//! runtime; anywhere else (a current-thread runtime, no runtime) on a scoped thread with
//! a runtime of its own. Cache hits never come here.
//!
//! [`Serializer`]: crate::Serializer

use std::future::Future;

use tokio::runtime::{Builder, Handle, RuntimeFlavor};

pub(crate) fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    if let Ok(handle) = Handle::try_current() {
        if handle.runtime_flavor() == RuntimeFlavor::MultiThread {
            return tokio::task::block_in_place(|| handle.block_on(future));
        }
    }
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a current-thread tokio runtime for a schema-registry call")
                    .block_on(future)
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
