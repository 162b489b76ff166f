//! `kafka-msggen [--jar PATH] [--out DIR] [--check]`: generates (or with `--check`
//! verifies) kafka-client's `protocol_gen` module from Kafka's JSON message schemas.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut jar = None;
    let mut out = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../kafka-client/src/protocol_gen"
    ));
    let mut check = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--jar" => jar = args.next().map(PathBuf::from),
            "--out" => out = args.next().map(PathBuf::from).unwrap_or(out),
            "--check" => check = true,
            other => {
                eprintln!(
                    "kafka-msggen: unknown argument {other:?}\nusage: kafka-msggen [--jar PATH] [--out DIR] [--check]"
                );
                return ExitCode::from(2);
            }
        }
    }
    let Some(jar) = jar.or_else(kafka_msggen::default_jar) else {
        eprintln!("kafka-msggen: no --jar and no HOME to find ~/.m2's kafka-clients jar");
        return ExitCode::from(2);
    };
    let files = match kafka_msggen::generate_from_jar(&jar) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("kafka-msggen: {e}");
            return ExitCode::FAILURE;
        }
    };
    if check {
        let diff = kafka_msggen::diff(&files, &out);
        if diff.is_empty() {
            println!("{} is current ({} files)", out.display(), files.len());
            return ExitCode::SUCCESS;
        }
        for d in diff {
            eprintln!("kafka-msggen: {d}");
        }
        return ExitCode::FAILURE;
    }
    match kafka_msggen::write(&files, &out) {
        Ok(()) => {
            println!("wrote {} files into {}", files.len(), out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kafka-msggen: {e}");
            ExitCode::FAILURE
        }
    }
}
