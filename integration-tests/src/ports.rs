//! Free TCP ports on 127.0.0.1.

use std::net::TcpListener;

/// `count` distinct free ports on 127.0.0.1: all are bound at once (so they differ),
/// then released. Another process could still take one before Kafka binds it; the
/// cluster start-up retries on "Address already in use".
pub fn free_ports(count: usize) -> std::io::Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ports_are_distinct_and_nonzero() {
        let mut ports = super::free_ports(8).unwrap();
        assert!(ports.iter().all(|&p| p != 0));
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 8);
    }
}
