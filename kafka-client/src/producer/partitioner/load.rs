//! KIP-794's adaptive partitioning: the next sticky partition is drawn with a weight
//! that falls as the partition's queue grows, so keyless records go less to a slow
//! broker, and not at all to a partition whose broker has not taken a batch for
//! `partitioner.availability.timeout.ms`.
//!
//! As in the Java client (`BuiltInPartitioner`), a partition with `q` batches waiting
//! weighs `max_q + 1 - q`, where `max_q` is the longest queue of the topic's available
//! partitions; when every queue is equally long the draw is uniform. The table is built
//! from the partitions' lock-free load figures and reused for [`REFRESH`], so choosing
//! costs one table lookup per batch even on topics with thousands of partitions.

use std::time::Duration;

use tokio::time::Instant;

/// How long a load table is reused before it is built again.
pub(crate) const REFRESH: Duration = Duration::from_millis(1);

/// The adaptive partitioner's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Adaptive {
    /// `partitioner.adaptive.partitioning.enable`: weigh partitions by queue length.
    pub enabled: bool,
    /// `partitioner.availability.timeout.ms` (`None` when 0): skip partitions whose
    /// sender has not looked at them for this long while they hold batches.
    pub availability_timeout: Option<Duration>,
}

impl Default for Adaptive {
    fn default() -> Self {
        Adaptive {
            enabled: true,
            availability_timeout: None,
        }
    }
}

/// The partitions a sticky switch may draw from, with their weights.
#[derive(Debug)]
pub(crate) struct LoadTable {
    built: Instant,
    /// Partition count the table was built for.
    partitions: i32,
    /// The available partitions, ascending.
    ids: Vec<u32>,
    /// Running sums of the weights of `ids` (empty: all weigh the same).
    cumulative: Vec<u64>,
}

impl LoadTable {
    /// Builds the table for `partitions` partitions; `load(p)` is `None` for a
    /// partition that must not be drawn, else its number of waiting batches.
    pub(crate) fn build(now: Instant, partitions: i32, load: impl Fn(i32) -> Option<u32>) -> Self {
        let mut ids = Vec::new();
        let mut queues = Vec::new();
        for p in 0..partitions.max(0) {
            if let Some(q) = load(p) {
                ids.push(p as u32);
                queues.push(q);
            }
        }
        let max = queues.iter().copied().max().unwrap_or(0);
        let min = queues.iter().copied().min().unwrap_or(0);
        let cumulative = if max == min {
            Vec::new()
        } else {
            let mut sum = 0u64;
            queues
                .iter()
                .map(|&q| {
                    sum += u64::from(max - q) + 1;
                    sum
                })
                .collect()
        };
        LoadTable {
            built: now,
            partitions,
            ids,
            cumulative,
        }
    }

    /// Whether this table may still be used at `now` for a topic of `partitions`.
    pub(crate) fn is_fresh(&self, now: Instant, partitions: i32) -> bool {
        self.partitions == partitions && now.saturating_duration_since(self.built) < REFRESH
    }

    /// Draws a partition other than `avoid` when there is a choice: weighted when the
    /// queues differ, uniform otherwise. `None` when no partition is available.
    pub(crate) fn draw(&self, avoid: u32, random: impl Fn(u64) -> u64) -> Option<u32> {
        match self.ids.len() {
            0 => None,
            1 => Some(self.ids[0]),
            n if self.cumulative.is_empty() => {
                // Uniform among the others (as the plain sticky partitioner does).
                let others = n - usize::from(self.ids.contains(&avoid));
                let mut k = random(others as u64) as usize;
                self.ids.iter().copied().find(|&p| {
                    if p == avoid {
                        return false;
                    }
                    if k == 0 {
                        return true;
                    }
                    k -= 1;
                    false
                })
            }
            _ => {
                let total = *self.cumulative.last().unwrap_or(&1);
                let r = random(total);
                let at = self.cumulative.partition_point(|&c| c <= r);
                self.ids.get(at).copied()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn short_queues_weigh_more() {
        let queues = [0u32, 4, 0, 9];
        let t = LoadTable::build(Instant::now(), 4, |p| Some(queues[p as usize]));
        // max 9: weights 10, 6, 10, 1 → running sums 10, 16, 26, 27.
        assert_eq!(t.cumulative, [10, 16, 26, 27]);
        let mut counts = [0u32; 4];
        for r in 0..27 {
            counts[t.draw(u32::MAX, |_| r).unwrap() as usize] += 1;
        }
        assert_eq!(counts, [10, 6, 10, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn unavailable_partitions_are_never_drawn() {
        let t = LoadTable::build(Instant::now(), 5, |p| (p % 2 == 1).then_some(0));
        assert_eq!(t.ids, [1, 3]);
        for r in 0..10 {
            let p = t.draw(1, |n| r % n).unwrap();
            assert_eq!(p, 3, "uniform draw avoids the current partition");
        }
        let none = LoadTable::build(Instant::now(), 3, |_| None);
        assert_eq!(none.draw(0, |_| 0), None);
    }

    #[tokio::test(start_paused = true)]
    async fn equal_queues_draw_uniformly_and_tables_expire() {
        let t = LoadTable::build(Instant::now(), 3, |_| Some(2));
        assert!(t.cumulative.is_empty());
        let drawn: Vec<u32> = (0..2).map(|r| t.draw(0, |_| r).unwrap()).collect();
        assert_eq!(drawn, [1, 2]);
        assert!(t.is_fresh(Instant::now(), 3));
        assert!(!t.is_fresh(Instant::now(), 4), "partition count changed");
        tokio::time::advance(REFRESH).await;
        assert!(!t.is_fresh(Instant::now(), 3));
    }
}
