//! A real MIT Kerberos KDC for the `GSSAPI` tests: its own realm in a temporary
//! directory (`kdb5_util create`), principals and keytabs made with `kadmin.local`, and
//! `krb5kdc` in the foreground on a free port of 127.0.0.1 (TCP and UDP), with a
//! `krb5.conf` that clients (the broker's JVM, kcat) are pointed at.
//!
//! The MIT tools come from Debian's `krb5-kdc`, `krb5-admin-server` and `krb5-user`;
//! when they are missing and the test runs as root (CI), [`Kdc::start`] installs them
//! with `apt-get`, as `jars.rs` fetches the broker's jars.
//!
//! ```no_run
//! let kdc = kafka_testbed::kdc::Kdc::start("KAFKA.TEST")?;
//! let keytab = kdc.dir().join("alice.keytab");
//! kdc.add_keytab_principal("alice", &keytab)?;
//! kdc.add_password_principal("bob", "bob-secret")?;
//! # Ok::<(), kafka_testbed::Error>(())
//! ```

use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::ClusterConfig;
use crate::error::{Error, Result};

/// The brokers' Kerberos principal (realm appended): service `kafka`, host `localhost`.
pub const BROKER_PRINCIPAL: &str = "kafka/localhost";
/// The extra-port name of the `GSSAPI` listener added by [`Kdc::broker_config`].
pub const GSSAPI_PORT: &str = "gssapi";

/// The Debian packages providing `krb5kdc`, `kdb5_util`, `kadmin.local` and `kinit`.
pub const KERBEROS_PACKAGES: [&str; 3] = ["krb5-kdc", "krb5-admin-server", "krb5-user"];
const KDC_BIN: &str = "/usr/sbin/krb5kdc";
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running KDC and its realm. Dropping it stops `krb5kdc` and removes the directory.
#[derive(Debug)]
pub struct Kdc {
    realm: String,
    dir: PathBuf,
    port: u16,
    child: Child,
    watchdog: Option<Child>,
    cleaner: Option<Child>,
}

impl Kdc {
    /// Creates realm `realm` in a fresh directory and starts its KDC.
    pub fn start(realm: &str) -> Result<Self> {
        ensure_installed()?;
        let dir = std::env::temp_dir().join(format!(
            "kafka-testbed-kdc-{}-{}",
            std::process::id(),
            realm.to_ascii_lowercase()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let port = crate::ports::free_ports(1).map_err(|e| Error::io("picking a KDC port", e))?[0];
        let d = dir.display();
        write(
            &dir.join("krb5.conf"),
            &format!(
                "[libdefaults]\n  default_realm = {realm}\n  dns_lookup_kdc = false\n  \
                 dns_lookup_realm = false\n  rdns = false\n  dns_canonicalize_hostname = false\n  \
                 udp_preference_limit = 1\n  ticket_lifetime = 10h\n  forwardable = false\n\
                 [realms]\n  {realm} = {{\n    kdc = 127.0.0.1:{port}\n  }}\n\
                 [domain_realm]\n  localhost = {realm}\n"
            ),
        )?;
        write(
            &dir.join("kdc.conf"),
            &format!(
                "[kdcdefaults]\n  kdc_listen = 127.0.0.1:{port}\n  kdc_tcp_listen = 127.0.0.1:{port}\n\
                 [realms]\n  {realm} = {{\n    database_name = {d}/principal\n    \
                 key_stash_file = {d}/stash\n    acl_file = {d}/kadm5.acl\n    \
                 max_life = 10h 0m 0s\n    max_renewable_life = 1d\n    \
                 supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal\n    \
                 default_principal_flags = +preauth\n  }}\n\
                 [logging]\n  kdc = FILE:{d}/kdc.log\n  admin_server = FILE:{d}/kadmin.log\n"
            ),
        )?;
        write(&dir.join("kadm5.acl"), "")?;
        let kdc = Self {
            realm: realm.to_owned(),
            port,
            child: Command::new("true")
                .spawn()
                .map_err(|e| Error::io("spawning `true`", e))?,
            watchdog: None,
            cleaner: None,
            dir,
        };
        kdc.run(
            "/usr/sbin/kdb5_util",
            &[
                "create",
                "-s",
                "-r",
                realm,
                "-P",
                "kafka-testbed-master-key",
            ],
        )?;
        let mut kdc = kdc;
        let out = fs::File::create(kdc.dir.join("krb5kdc.out"))
            .map_err(|e| Error::io("creating krb5kdc.out", e))?;
        let err = out
            .try_clone()
            .map_err(|e| Error::io("cloning a file", e))?;
        kdc.child = kdc
            .command(KDC_BIN)
            .args(["-n", "-r", realm])
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| Error::io("starting krb5kdc", e))?;
        kdc.watchdog = Some(crate::process::spawn_watchdog(
            std::process::id(),
            kdc.child.id(),
        )?);
        // A KDC kept in a `static` is never dropped: remove its directory after exit.
        if std::env::var(crate::KEEP_ENV).map_or(true, |v| v.is_empty() || v == "0") {
            kdc.cleaner = Some(crate::process::spawn_dir_cleaner(
                std::process::id(),
                &kdc.dir,
            )?);
        }
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = kdc.child.try_wait() {
                return Err(Error::new(format!(
                    "krb5kdc exited ({status}): {}",
                    fs::read_to_string(kdc.dir.join("krb5kdc.out")).unwrap_or_default()
                )));
            }
            if Instant::now() > deadline {
                return Err(Error::new(format!(
                    "krb5kdc did not listen on 127.0.0.1:{port} within {START_TIMEOUT:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(kdc)
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// `127.0.0.1:port` of the KDC.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The realm's directory (database, logs, keytabs if put here).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `krb5.conf` naming this realm and KDC (no DNS lookups, no canonicalization,
    /// TCP first).
    pub fn krb5_conf(&self) -> PathBuf {
        self.dir.join("krb5.conf")
    }

    /// `name@REALM`.
    pub fn principal(&self, name: &str) -> String {
        format!("{name}@{}", self.realm)
    }

    /// Adds `name` with a random key and writes its keys to `keytab`.
    pub fn add_keytab_principal(&self, name: &str, keytab: &Path) -> Result<()> {
        self.kadmin(&format!("addprinc -randkey {name}"))?;
        self.kadmin(&format!("ktadd -k {} {name}", keytab.display()))
    }

    /// Adds `name` with `password`.
    pub fn add_password_principal(&self, name: &str, password: &str) -> Result<()> {
        self.kadmin(&format!("addprinc -pw {password} {name}"))
    }

    /// `base` plus a SASL_PLAINTEXT listener named `GSSAPI` on the extra port
    /// [`GSSAPI_PORT`], bound to 127.0.0.1 and advertised as `localhost` (the host of
    /// [`BROKER_PRINCIPAL`]), where the broker authenticates as that principal with the
    /// key in `keytab`. The JVM reads this realm's `krb5.conf`. No authorizer: every
    /// authenticated principal may do everything.
    pub fn broker_config(&self, base: ClusterConfig, keytab: &Path) -> ClusterConfig {
        let jaas = format!(
            "com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true storeKey=true \
             keyTab=\"{}\" principal=\"{}\";",
            keytab.display(),
            self.principal(BROKER_PRINCIPAL)
        );
        base.with_extra_port(GSSAPI_PORT)
            .with_property(
                "listeners",
                "PLAINTEXT://127.0.0.1:{client_port},CONTROLLER://127.0.0.1:{controller_port},\
                 GSSAPI://127.0.0.1:{port.gssapi}",
            )
            .with_property(
                "advertised.listeners",
                "PLAINTEXT://127.0.0.1:{client_port},CONTROLLER://127.0.0.1:{controller_port},\
                 GSSAPI://localhost:{port.gssapi}",
            )
            .with_property(
                "listener.security.protocol.map",
                "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,GSSAPI:SASL_PLAINTEXT",
            )
            .with_property("listener.name.gssapi.sasl.enabled.mechanisms", "GSSAPI")
            .with_property("sasl.enabled.mechanisms", "GSSAPI")
            .with_property("sasl.kerberos.service.name", "kafka")
            .with_property("listener.name.gssapi.gssapi.sasl.jaas.config", jaas)
            .with_jvm_flag(format!(
                "-Djava.security.krb5.conf={}",
                self.krb5_conf().display()
            ))
    }

    /// Runs one `kadmin.local` query.
    pub fn kadmin(&self, query: &str) -> Result<()> {
        self.run("/usr/sbin/kadmin.local", &["-r", &self.realm, "-q", query])
    }

    /// The KDC's log.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("kdc.log")).unwrap_or_default()
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("KRB5_CONFIG", self.krb5_conf())
            .env("KRB5_KDC_PROFILE", self.dir.join("kdc.conf"))
            .stdin(Stdio::null());
        c
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<()> {
        let out = self
            .command(program)
            .args(args)
            .output()
            .map_err(|e| Error::io(format!("running {program}"), e))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        // kadmin.local reports a failed query on stderr with a zero exit status.
        if !out.status.success() || stderr.contains("add_principal: ") || stderr.contains("ktadd: ")
        {
            return Err(Error::new(format!(
                "{program} {} failed ({}): {stderr}",
                args.join(" "),
                out.status
            )));
        }
        Ok(())
    }
}

impl Drop for Kdc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for mut c in [self.watchdog.take(), self.cleaner.take()]
            .into_iter()
            .flatten()
        {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::env::var(crate::KEEP_ENV).map_or(true, |v| v.is_empty() || v == "0") {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// Installs the MIT Kerberos packages with `apt-get` when `krb5kdc` is missing (as root
/// only; otherwise says what to install).
pub fn ensure_installed() -> Result<()> {
    if Path::new(KDC_BIN).exists()
        && Path::new("/usr/sbin/kadmin.local").exists()
        && Path::new("/usr/sbin/kdb5_util").exists()
    {
        return Ok(());
    }
    install_packages(&KERBEROS_PACKAGES)
}

/// `apt-get install -y` of `packages` (as root), once `apt-get update` has run.
pub fn install_packages(packages: &[&str]) -> Result<()> {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !is_root {
        return Err(Error::new(format!(
            "missing Debian packages {}: install them (apt-get install {})",
            packages.join(", "),
            packages.join(" ")
        )));
    }
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::io("running apt-get", e))
    };
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend_from_slice(packages);
    let out = apt(&install)?;
    if out.status.success() {
        return Ok(());
    }
    apt(&["update", "-q"])?;
    let out = apt(&install)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::new(format!(
            "apt-get install {} failed: {}",
            packages.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}
