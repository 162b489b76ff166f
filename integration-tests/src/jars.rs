//! Locating `java` and resolving Kafka's classpaths with Maven into a per-version cache.
//!
//! The broker's classpath comes from `testbed/pom.xml` (`kafka_2.13` runtime closure plus
//! an SLF4J binding), the tools' from `testbed/tools-pom.xml` (`kafka-tools`), via
//! `mvn dependency:build-classpath -Dkafka.version=V`. Kafka 4.x logs through log4j2
//! (`log4j-slf4j-impl`, the poms' default), 3.x through log4j 1 (`slf4j-reload4j`, chosen
//! with the `log.binding.*` properties). Each classpath is written to its file in the
//! version's cache directory (`cp.txt`, `tools-cp.txt`) and reused while every jar it
//! names still exists. Concurrent processes serialise on a file lock in that directory.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};

use crate::error::{Error, Result};
use crate::logs::tail_str;
use crate::version::KafkaVersion;

/// Environment variable overriding the jar-cache base directory (one subdirectory per
/// Kafka version).
pub const CACHE_ENV: &str = "KAFKA_TESTBED_CACHE";

/// One classpath resolved with Maven: its pom, its cache file, the artifact whose jar it
/// must name.
struct Spec {
    pom: &'static str,
    file: &'static str,
    artifact: &'static str,
    /// The artifact's own version when it does not follow Kafka's.
    fixed_version: Option<&'static str>,
}

impl Spec {
    fn jar(&self, version: KafkaVersion) -> String {
        match self.fixed_version {
            Some(v) => format!("{}-{v}.jar", self.artifact),
            None => format!("{}-{version}.jar", self.artifact),
        }
    }
}

const BROKER: Spec = Spec {
    pom: concat!(env!("CARGO_MANIFEST_DIR"), "/testbed/pom.xml"),
    file: "cp.txt",
    artifact: "kafka_2.13",
    fixed_version: None,
};

const TOOLS: Spec = Spec {
    pom: concat!(env!("CARGO_MANIFEST_DIR"), "/testbed/tools-pom.xml"),
    file: "tools-cp.txt",
    artifact: "kafka-tools",
    fixed_version: None,
};

const MSK_IAM: Spec = Spec {
    pom: concat!(env!("CARGO_MANIFEST_DIR"), "/testbed/msk-iam-pom.xml"),
    file: "msk-iam-cp.txt",
    artifact: "aws-msk-iam-auth",
    fixed_version: Some("2.4.0"),
};

/// Directory holding the selected version's `cp.txt` (and its lock); see
/// [`cache_dir_for`].
pub fn cache_dir() -> PathBuf {
    cache_dir_for(KafkaVersion::selected())
}

/// Directory holding `version`'s `cp.txt` (and its lock): `$KAFKA_TESTBED_CACHE/V`, else
/// `$HOME/.cache/kafka-rs-testbed/V`. The jars themselves live in Maven's `~/.m2`.
pub fn cache_dir_for(version: KafkaVersion) -> PathBuf {
    let base = match std::env::var_os(CACHE_ENV).filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".cache").join("kafka-rs-testbed"),
            None => std::env::temp_dir().join("kafka-rs-testbed"),
        },
    };
    base.join(version.to_string())
}

/// The `java` executable: `$JAVA_HOME/bin/java` if present, else `java` on `PATH`.
pub fn java_binary() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("JAVA_HOME").filter(|v| !v.is_empty()) {
        let java = PathBuf::from(home).join("bin").join("java");
        if is_executable(&java) {
            return Ok(java);
        }
    }
    find_on_path("java").ok_or_else(|| {
        Error::new(
            "kafka-testbed: `java` not found (neither $JAVA_HOME/bin/java nor on PATH); \
             Kafka 4.x needs a JDK/JRE 17 or newer (e.g. `apt-get install openjdk-17-jre-headless`)",
        )
    })
}

/// The selected Kafka version's runtime classpath ([`KafkaVersion::selected`]); see
/// [`classpath_for`].
pub fn classpath() -> Result<String> {
    classpath_for(KafkaVersion::selected())
}

/// `version`'s broker runtime classpath (`:`-separated jar paths), resolving it with
/// `mvn` on first use on this machine. Cached for the rest of the process.
pub fn classpath_for(version: KafkaVersion) -> Result<String> {
    cached(&BROKER, version)
}

/// The classpath of the selected version's command-line and performance tools; see
/// [`tools_classpath_for`].
pub fn tools_classpath() -> Result<String> {
    tools_classpath_for(KafkaVersion::selected())
}

/// The classpath of `version`'s command-line and performance tools (`kafka-tools` and
/// its runtime closure), resolved like [`classpath_for`] and cached as `tools-cp.txt`.
pub fn tools_classpath_for(version: KafkaVersion) -> Result<String> {
    cached(&TOOLS, version)
}

/// The classpath of Amazon's MSK IAM library (`software.amazon.msk:aws-msk-iam-auth`
/// 2.4.0, with `kafka-clients`), the reference for the `msk_iam` tests; resolved like
/// [`classpath_for`] and cached as `msk-iam-cp.txt`.
pub fn msk_iam_classpath() -> Result<String> {
    cached(&MSK_IAM, KafkaVersion::selected())
}

fn cached(spec: &'static Spec, version: KafkaVersion) -> Result<String> {
    static RESOLVED: Mutex<BTreeMap<(&'static str, KafkaVersion), String>> =
        Mutex::new(BTreeMap::new());
    let mut resolved = RESOLVED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(cp) = resolved.get(&(spec.file, version)) {
        return Ok(cp.clone());
    }
    let cp = resolve_classpath(&cache_dir_for(version), spec, version)?;
    resolved.insert((spec.file, version), cp.clone());
    Ok(cp)
}

/// The `-D` properties that select `version` (and its logging binding) in the poms.
fn maven_properties(version: KafkaVersion) -> Vec<String> {
    let mut props = vec![format!("-Dkafka.version={version}")];
    if version.uses_log4j1() {
        props.extend([
            "-Dlog.binding.groupId=org.slf4j".to_owned(),
            "-Dlog.binding.artifactId=slf4j-reload4j".to_owned(),
            "-Dlog.binding.version=1.7.36".to_owned(),
        ]);
    }
    props
}

fn resolve_classpath(dir: &Path, spec: &Spec, version: KafkaVersion) -> Result<String> {
    let jar = spec.jar(version);
    let cp_file = dir.join(spec.file);
    if let Some(cp) = read_valid_classpath(&cp_file, &jar) {
        return Ok(cp);
    }
    fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let lock_path = dir.join("cp.lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io(format!("opening {}", lock_path.display()), e))?;
    lock.lock()
        .map_err(|e| Error::io(format!("locking {}", lock_path.display()), e))?;
    // Another process may have finished the job while we waited for the lock.
    if let Some(cp) = read_valid_classpath(&cp_file, &jar) {
        return Ok(cp);
    }
    let mvn = find_on_path("mvn").ok_or_else(|| {
        Error::new(format!(
            "kafka-testbed: `mvn` not found on PATH; it is needed once per machine to fetch \
             Kafka {version}'s jars from Maven Central into ~/.m2 \
             (e.g. `apt-get install maven`)"
        ))
    })?;
    eprintln!(
        "kafka-testbed: resolving {} with mvn (a fresh machine downloads ~100-200 MB) ...",
        jar
    );
    let started = std::time::Instant::now();
    let tmp = dir.join(format!("{}.{}.tmp", spec.file, std::process::id()));
    let output = Command::new(&mvn)
        .args(["-B", "-q", "-f", spec.pom, "dependency:build-classpath"])
        .args(maven_properties(version))
        .arg("-Dmdep.includeScope=runtime")
        .arg(format!("-Dmdep.outputFile={}", tmp.display()))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io(format!("running {}", mvn.display()), e))?;
    if !output.status.success() {
        let _ = fs::remove_file(&tmp);
        return Err(Error::new(format!(
            "kafka-testbed: `mvn dependency:build-classpath -f {} {}` failed ({}):\n{}\n{}",
            spec.pom,
            maven_properties(version).join(" "),
            output.status,
            tail_str(&String::from_utf8_lossy(&output.stdout), 40),
            tail_str(&String::from_utf8_lossy(&output.stderr), 40),
        )));
    }
    let cp = read_valid_classpath(&tmp, &jar).ok_or_else(|| {
        Error::new(format!(
            "kafka-testbed: mvn succeeded but {} does not list {jar} and existing jars",
            tmp.display(),
        ))
    })?;
    fs::rename(&tmp, &cp_file)
        .map_err(|e| Error::io(format!("renaming {} to {}", tmp.display(), spec.file), e))?;
    eprintln!(
        "kafka-testbed: classpath ready in {:.1}s ({})",
        started.elapsed().as_secs_f64(),
        cp_file.display()
    );
    Ok(cp)
}

/// The classpath in `file` if it names `jar` and every entry exists.
fn read_valid_classpath(file: &Path, jar: &str) -> Option<String> {
    let cp = fs::read_to_string(file).ok()?.trim().to_owned();
    let has_kafka = cp.split(':').any(|entry| entry.ends_with(jar));
    let all_exist = cp.split(':').all(|jar| Path::new(jar).is_file());
    (has_kafka && all_exist).then_some(cp)
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_missing_or_foreign_classpaths() {
        let dir = std::env::temp_dir().join(format!("kafka-testbed-jars-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("cp.txt");
        let jar = BROKER.jar(KafkaVersion::new(4, 4, 0));
        assert_eq!(jar, "kafka_2.13-4.4.0.jar");
        assert_eq!(read_valid_classpath(&file, &jar), None, "missing file");
        let fake = dir.join(&jar);
        fs::write(&fake, b"").unwrap();
        fs::write(&file, format!("{}\n", fake.display())).unwrap();
        assert_eq!(
            read_valid_classpath(&file, &jar),
            Some(fake.display().to_string())
        );
        fs::write(&file, format!("{}:/nonexistent/x.jar", fake.display())).unwrap();
        assert_eq!(read_valid_classpath(&file, &jar), None, "a jar is gone");
        fs::write(&file, "/bin/sh").unwrap();
        assert_eq!(read_valid_classpath(&file, &jar), None, "no kafka jar");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn each_version_has_its_cache_dir_and_logging_binding() {
        let old = KafkaVersion::new(3, 9, 1);
        let new = KafkaVersion::new(4, 4, 0);
        assert_ne!(cache_dir_for(old), cache_dir_for(new));
        assert!(cache_dir_for(old).ends_with("3.9.1"));
        assert_eq!(maven_properties(new), ["-Dkafka.version=4.4.0"]);
        let old_props = maven_properties(old);
        assert_eq!(old_props[0], "-Dkafka.version=3.9.1");
        assert!(old_props.contains(&"-Dlog.binding.artifactId=slf4j-reload4j".to_owned()));
    }

    #[test]
    fn finds_sh_on_path() {
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("surely-not-a-real-binary-name").is_none());
    }
}
