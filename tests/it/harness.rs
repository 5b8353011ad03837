//! Running `box` as a given user in a fresh sandbox of XDG directories.
//!
//! The environment comes from `tests/run.sh`; without it these tests cannot mean
//! anything, so they fail loudly rather than skip.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

/// One test per user (`NAME::sub`, `NAME::nosub`, `NAME::root`) running `body(user)`.
macro_rules! per_user {
    ($name:ident, $body:ident) => {
        mod $name {
            use $crate::harness::User;
            #[test]
            fn sub() {
                super::$body(User::Sub)
            }
            #[test]
            fn nosub() {
                super::$body(User::NoSub)
            }
            #[test]
            fn root() {
                super::$body(User::Root)
            }
        }
    };
}

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the integration tests through tests/run.sh (as root), which starts the registry and creates the test users")
    })
}

pub fn registry() -> String {
    env("BOX_TEST_REGISTRY")
}

/// A fixture's reference in the test registry, e.g. `127.0.0.1:5000/busybox:latest`.
pub fn image(name: &str) -> String {
    let name = if name.contains(':') {
        name.to_string()
    } else {
        format!("{name}:latest")
    };
    format!("{}/{name}", registry())
}

/// The busybox fixture, the image most tests run.
pub fn bb() -> String {
    image("busybox")
}

/// Go's `time.Time.String()` in UTC, as Docker prints times: "2026-11-23 11:00:00 +0000 UTC".
pub fn is_go_time(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 29
        && s.ends_with(" +0000 UTC")
        && [4, 7].iter().all(|&i| b[i] == b'-')
        && b[10] == b' '
        && [13, 16].iter().all(|&i| b[i] == b':')
        && s[..19]
            .chars()
            .all(|c| c.is_ascii_digit() || "-: ".contains(c))
}

/// What `tests/fixtures/build.py` pushed: digests of manifests, configs and layers.
pub fn fixture(name: &str) -> &'static Value {
    static ALL: OnceLock<Value> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        serde_json::from_slice(&std::fs::read(env("BOX_TEST_FIXTURES")).unwrap()).unwrap()
    });
    let key = if name.contains(':') {
        name.to_string()
    } else {
        format!("{name}:latest")
    };
    all.get(&key).unwrap_or_else(|| panic!("no fixture {key}"))
}

pub fn layers(name: &str) -> Vec<String> {
    fixture(name)["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

pub fn debian_available() -> bool {
    std::env::var("BOX_TEST_DEBIAN").is_ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum User {
    /// Unprivileged, with a subordinate id range (200000:65536).
    Sub,
    /// Unprivileged, without any: the single-id fallback.
    NoSub,
    Root,
}

impl User {
    pub fn name(self) -> String {
        match self {
            User::Sub => env("BOX_TEST_SUB_USER"),
            User::NoSub => env("BOX_TEST_NOSUB_USER"),
            User::Root => "root".into(),
        }
    }

    pub fn uid(self) -> u32 {
        id_of(&self.name(), "-u")
    }

    pub fn gid(self) -> u32 {
        id_of(&self.name(), "-g")
    }

    /// The host uid that a uid inside the container maps to.
    pub fn host_uid(self, inside: u32) -> u32 {
        match self {
            User::Root => inside,
            User::NoSub => self.uid(),
            User::Sub if inside == 0 => self.uid(),
            User::Sub => 200000 + inside - 1,
        }
    }
}

fn id_of(user: &str, flag: &str) -> u32 {
    let out = Command::new("id").args([flag, user]).output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// The `box` binary, copied where every test user can run it (the build directory
/// may sit under a home that is not world-readable).
pub fn box_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = PathBuf::from(format!("/tmp/boxtest-bin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.join("box");
        std::fs::copy(env!("CARGO_BIN_EXE_box"), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        bin
    })
}

/// A fresh home, data, runtime and config directory for one user, removed on drop.
pub struct Sandbox {
    pub user: User,
    pub dir: PathBuf,
}

impl Sandbox {
    pub fn new(user: User) -> Sandbox {
        let dir = PathBuf::from(format!(
            "/tmp/boxtest-sb-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        for sub in ["", "home", "data", "runtime", "config"] {
            let p = dir.join(sub);
            std::fs::create_dir_all(&p).unwrap();
            std::fs::set_permissions(
                &p,
                std::fs::Permissions::from_mode(if sub.is_empty() { 0o755 } else { 0o700 }),
            )
            .unwrap();
            chown(&p, user);
        }
        Sandbox { user, dir }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.join("home")
    }

    pub fn runtime(&self) -> PathBuf {
        self.dir.join("runtime")
    }

    /// `$XDG_DATA_HOME/box`.
    pub fn store(&self) -> PathBuf {
        self.dir.join("data/box")
    }

    pub fn layer_diff(&self, digest: &str) -> PathBuf {
        self.store()
            .join("layers")
            .join(digest.trim_start_matches("sha256:"))
            .join("diff")
    }

    /// A command running `box ARGS` as the sandbox's user.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = if self.user == User::Root {
            Command::new(box_bin())
        } else {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={}", self.user.uid()))
                .arg(format!("--regid={}", self.user.gid()))
                .arg("--init-groups")
                .arg(box_bin());
            c
        };
        c.args(args)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("HOME", self.home())
            .env("USER", self.user.name())
            .env("XDG_DATA_HOME", self.dir.join("data"))
            .env("XDG_RUNTIME_DIR", self.runtime())
            .env("XDG_CONFIG_HOME", self.dir.join("config"))
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        c
    }

    /// `box ARGS` as the sandbox's user, on a terminal of its own: `script` runs it on a
    /// pseudo-terminal, as a user at a shell would, and copies it to its stdout.
    pub fn in_terminal(&self, args: &[&str]) -> Command {
        let c = self.cmd(args);
        let line: Vec<String> = std::iter::once(c.get_program())
            .chain(c.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let envs: Vec<(String, String)> = c
            .get_envs()
            .filter_map(|(k, v)| {
                Some((
                    k.to_string_lossy().into_owned(),
                    v?.to_string_lossy().into_owned(),
                ))
            })
            .collect();
        let mut s = Command::new("script");
        s.args(["-qec", &line.join(" "), "/dev/null"])
            .env_clear()
            .envs(envs)
            .env("TERM", "xterm")
            .current_dir(&self.dir);
        s
    }

    /// Runs `box ARGS` to its end, or fails the test after five minutes: a hung box
    /// must fail its test, not stall the whole suite.
    pub fn run(&self, args: &[&str]) -> Out {
        Out(output_within(self.cmd(args), RUN_LIMIT), args.join(" "))
    }

    /// Runs and asserts success.
    pub fn ok(&self, args: &[&str]) -> Out {
        let o = self.run(args);
        assert_eq!(
            o.code(),
            0,
            "box {} failed as {:?}:\n{}",
            o.1,
            self.user,
            o.both()
        );
        o
    }

    /// Writes a file in the sandbox as the user's own.
    pub fn write(&self, rel: &str, text: &str) {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        let mut cur = p.as_path();
        while cur != self.dir {
            chown(cur, self.user);
            cur = cur.parent().unwrap();
        }
    }
}

impl Drop for Sandbox {
    /// Containers a test left running (a failed assertion) are removed first: their
    /// shims would outlive the test otherwise.
    fn drop(&mut self) {
        if self.store().join("containers").exists() {
            let ids = self.run(&["ps", "-aq", "--no-trunc"]).stdout();
            let ids: Vec<&str> = ids.lines().collect();
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f"];
                args.extend(ids);
                let _ = self.run(&args);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn chown(p: &Path, user: User) {
    std::os::unix::fs::lchown(p, Some(user.uid()), Some(user.gid())).unwrap();
}

pub struct Out(pub Output, pub String);

impl Out {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn both(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout(), self.stderr())
    }
    /// Asserts a box error: exit 125 and one line on stderr that says `what`.
    pub fn fails_with(&self, what: &str) -> &Self {
        self.fails_with_code(125, what)
    }

    /// Asserts exit `code` and one error line on stderr that says `what`.
    pub fn fails_with_code(&self, code: i32, what: &str) -> &Self {
        assert_eq!(
            self.code(),
            code,
            "box {}: expected exit {code}:\n{}",
            self.1,
            self.both()
        );
        let err = self.stderr();
        assert!(
            err.contains(what),
            "box {}: stderr lacks {what:?}:\n{}",
            self.1,
            self.both()
        );
        let error_lines = err.lines().filter(|l| l.starts_with("Error:")).count();
        assert_eq!(error_lines, 1, "one error line expected:\n{err}");
        self
    }
}

/// Metadata of a path without following a final symlink.
pub fn lstat(p: &Path) -> std::fs::Metadata {
    std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// How long one `box` command of a test may take.
pub const RUN_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

/// `Command::output`, with a time limit: past it the command is killed and the test
/// fails, naming the command.
pub fn output_within(mut cmd: Command, limit: std::time::Duration) -> Output {
    use std::io::Read;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not end within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}
