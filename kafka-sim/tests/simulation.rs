//! Runs the deterministic simulation over many seeds: 200 by default (CI),
//! `SIM_SEEDS=N` for N (long runs), `SIM_SEED=S` for exactly seed S (the reproduction
//! line a failing seed prints). Seeds run on two threads, each its own current-thread
//! runtime with a paused clock.

use std::time::Instant;

fn seeds() -> Vec<u64> {
    if let Some(one) = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        return vec![one];
    }
    let n: u64 = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let first: u64 = std::env::var("SIM_FIRST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    (first..first + n).collect()
}

#[test]
fn simulation_keeps_every_invariant_across_seeds() {
    if std::env::var_os("SIM_TRACE").is_some() {
        // The SDK's debug events (retries, connection closes), for one seed's story.
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
            .with_test_writer()
            .try_init();
    }
    let seeds = seeds();
    let started = Instant::now();
    let threads = 2;
    let chunks: Vec<Vec<u64>> = (0..threads)
        .map(|t| seeds.iter().copied().skip(t).step_by(threads).collect())
        .collect();
    let handles: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            std::thread::spawn(move || {
                chunk
                    .into_iter()
                    .map(kafka_sim::run)
                    .inspect(|o| {
                        if std::env::var_os("SIM_VERBOSE").is_some() {
                            eprintln!("{}", o.summary());
                        }
                    })
                    .filter(|o| !o.violations.is_empty())
                    .map(|o| (o.seed, o.report()))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut failed: Vec<(u64, String)> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("a simulation thread panicked"))
        .collect();
    failed.sort();
    eprintln!(
        "simulation: {} seeds in {:.1} s, {} failed",
        seeds.len(),
        started.elapsed().as_secs_f64(),
        failed.len()
    );
    for (_, report) in &failed {
        eprintln!("{report}");
    }
    if let Some((seed, _)) = failed.first() {
        panic!(
            "{} of {} seeds broke an invariant; first: SIM_SEED={seed} cargo test -p kafka-sim --test simulation",
            failed.len(),
            seeds.len()
        );
    }
}
