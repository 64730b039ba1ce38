//! Provisioning of the pinned anvil binary from the npm registry.
//!
//! Foundry publishes anvil as a platform package (`@foundry-rs/anvil-linux-amd64`, …) whose
//! tarball holds the static binary at `package/bin/anvil`. We `npm pack` it (no
//! `node_modules`, no install scripts), extract it with `tar`, check `--version`, and move it
//! to `<target>/tools/anvil-<version>/anvil` with an atomic rename. A lock file keeps parallel
//! test processes from downloading it several times; should a lock be left behind by a killed
//! process it expires, and the rename keeps even a racing install safe.

use std::fs::{self, OpenOptions};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use super::AnvilError;

/// The anvil release the fixtures are pinned to.
pub const ANVIL_VERSION: &str = "1.7.1";

/// Overrides provisioning with an existing binary (another version is at the caller's risk).
pub const ANVIL_ENV: &str = "CHAINTRACE_ANVIL";

/// A lock older than this is taken to be left over from a killed process.
const STALE_LOCK: Duration = Duration::from_secs(600);
const LOCK_POLL: Duration = Duration::from_millis(200);

/// The cargo target directory: `CARGO_TARGET_DIR` if set (at run time, else at build time),
/// otherwise `<workspace>/target`. A relative `CARGO_TARGET_DIR` is taken relative to the
/// workspace root, because tests run with the package directory as working directory.
pub fn target_dir() -> PathBuf {
    let from_env = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| option_env!("CARGO_TARGET_DIR").map(PathBuf::from));
    match from_env {
        Some(dir) if dir.is_absolute() => dir,
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// The workspace root, two levels above this crate's manifest.
pub fn workspace_root() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .ancestors()
        .nth(2)
        .unwrap_or(crate_dir)
        .to_path_buf()
}

/// Where the pinned binary lives under `target`.
pub fn anvil_path(target: &Path) -> PathBuf {
    target
        .join("tools")
        .join(format!("anvil-{ANVIL_VERSION}"))
        .join("anvil")
}

/// Returns the anvil to run: `$CHAINTRACE_ANVIL` if set, else [`ensure_anvil`]`(target)`.
pub fn resolve_anvil(target: &Path) -> Result<PathBuf, AnvilError> {
    match std::env::var_os(ANVIL_ENV).filter(|p| !p.is_empty()) {
        Some(path) if Path::new(&path).is_file() => Ok(PathBuf::from(path)),
        Some(path) => Err(AnvilError::Install(format!(
            "{ANVIL_ENV}={} is not a file",
            Path::new(&path).display()
        ))),
        None => ensure_anvil(target),
    }
}

/// Returns the pinned binary under `target`, installing it from npm first when it is
/// missing. Safe to call from several processes at once.
pub fn ensure_anvil(target: &Path) -> Result<PathBuf, AnvilError> {
    let bin = anvil_path(target);
    if bin.is_file() {
        return Ok(bin);
    }
    let dir = bin.parent().unwrap_or(target).to_path_buf();
    fs::create_dir_all(&dir).map_err(|e| install_err(format!("create {}: {e}", dir.display())))?;
    let lock = match InstallLock::acquire(&dir, &bin)? {
        Some(lock) => lock,
        None => return Ok(bin), // another process finished the install while we waited
    };
    if bin.is_file() {
        return Ok(bin); // finished between our first look and taking the lock
    }
    let result = install(&dir, &bin);
    drop(lock);
    result.map(|()| bin)
}

fn install_err(detail: String) -> AnvilError {
    AnvilError::Install(format!(
        "could not provision anvil {ANVIL_VERSION} (npm package {}): {detail}. \
         Provisioning needs node/npm, tar and access to the npm registry; or set {ANVIL_ENV} \
         to an anvil binary.",
        npm_package().unwrap_or("@foundry-rs/anvil-<platform>")
    ))
}

/// The npm package holding the binary for this platform.
fn npm_package() -> Option<&'static str> {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => Some("@foundry-rs/anvil-linux-amd64"),
        ("linux", "aarch64") => Some("@foundry-rs/anvil-linux-arm64"),
        ("macos", "x86_64") => Some("@foundry-rs/anvil-darwin-amd64"),
        ("macos", "aarch64") => Some("@foundry-rs/anvil-darwin-arm64"),
        _ => None,
    }
}

/// Downloads, extracts, verifies and moves the binary into place.
fn install(dir: &Path, bin: &Path) -> Result<(), AnvilError> {
    let package = npm_package().ok_or_else(|| {
        install_err(format!(
            "no anvil package for {}/{}",
            std::env::consts::OS,
            std::env::consts::ARCH
        ))
    })?;
    let staging = dir.join(format!(".staging-{}-{}", std::process::id(), nanos()));
    fs::create_dir_all(&staging)
        .map_err(|e| install_err(format!("create {}: {e}", staging.display())))?;
    let result = fetch_into(package, &staging, bin);
    let _ = fs::remove_dir_all(&staging);
    result
}

fn fetch_into(package: &str, staging: &Path, bin: &Path) -> Result<(), AnvilError> {
    let spec = format!("{package}@{ANVIL_VERSION}");
    run(Command::new("npm")
        .args(["pack", &spec, "--silent", "--pack-destination"])
        .arg(staging)
        .current_dir(staging))?;
    let tarball = fs::read_dir(staging)
        .map_err(|e| install_err(format!("read {}: {e}", staging.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .ok_or_else(|| install_err(format!("npm pack {spec} produced no .tgz")))?;
    run(Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(staging))?;
    let extracted = staging.join("package").join("bin").join("anvil");
    make_executable(&extracted)?;
    let version = run(Command::new(&extracted).arg("--version"))?;
    if !version.contains(ANVIL_VERSION) {
        return Err(install_err(format!(
            "{spec} reports version {:?}",
            version.lines().next().unwrap_or("")
        )));
    }
    fs::rename(&extracted, bin).map_err(|e| {
        install_err(format!(
            "move {} to {}: {e}",
            extracted.display(),
            bin.display()
        ))
    })
}

/// Runs a command, returning its stdout, or an install error with its stderr.
fn run(cmd: &mut Command) -> Result<String, AnvilError> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| install_err(format!("cannot run {shown}: {e}")))?;
    if !out.status.success() {
        return Err(install_err(format!(
            "{shown} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<(), AnvilError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .map_err(|e| install_err(format!("chmod {}: {e}", path.display())))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<(), AnvilError> {
    Ok(())
}

fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// An exclusive marker file next to the binary, removed on drop.
struct InstallLock {
    path: PathBuf,
}

impl InstallLock {
    /// Takes the lock, or returns `None` once `bin` appears (another process installed it).
    /// A lock older than [`STALE_LOCK`] is removed and taken over.
    fn acquire(dir: &Path, bin: &Path) -> Result<Option<InstallLock>, AnvilError> {
        let path = dir.join(".install.lock");
        let started = Instant::now();
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(_) => return Ok(Some(InstallLock { path })),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(install_err(format!("lock {}: {e}", path.display()))),
            }
            if bin.is_file() {
                return Ok(None);
            }
            if lock_age(&path).is_some_and(|age| age > STALE_LOCK) {
                let _ = fs::remove_file(&path);
                continue;
            }
            if started.elapsed() > STALE_LOCK {
                return Err(install_err(format!(
                    "timed out waiting for {} (another install?)",
                    path.display()
                )));
            }
            std::thread::sleep(LOCK_POLL);
        }
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn lock_age(path: &Path) -> Option<Duration> {
    let modified = fs::metadata(path).ok()?.modified().ok()?;
    SystemTime::now().duration_since(modified).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    #[test]
    fn failing_commands_give_clear_install_errors() {
        let err = run(&mut Command::new("/nonexistent/npm")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("cannot run") && text.contains("npm registry"),
            "{text}"
        );
        let err = run(Command::new("sh").args(["-c", "echo boom >&2; exit 3"])).unwrap_err();
        assert!(err.to_string().contains("boom"), "{err}");
    }

    #[test]
    fn target_dir_is_absolute_and_tools_live_under_it() {
        assert!(target_dir().is_absolute());
        let bin = anvil_path(Path::new("/t"));
        assert_eq!(bin, Path::new("/t/tools/anvil-1.7.1/anvil"));
    }

    #[test]
    fn lock_waits_for_another_install_and_expires_when_stale() {
        let dir = std::env::temp_dir().join(format!("ct-anvil-lock-{}", nanos()));
        fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("anvil");
        let held = InstallLock::acquire(&dir, &bin)
            .unwrap()
            .expect("free lock");
        fs::write(&bin, b"").unwrap();
        assert!(
            InstallLock::acquire(&dir, &bin).unwrap().is_none(),
            "installed meanwhile"
        );
        fs::remove_file(&bin).unwrap();
        let old = SystemTime::now() - STALE_LOCK - Duration::from_secs(60);
        File::options()
            .write(true)
            .open(&held.path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let taken = InstallLock::acquire(&dir, &bin).unwrap();
        assert!(taken.is_some(), "a stale lock is taken over");
        std::mem::forget(held); // its file now belongs to `taken`
        drop(taken);
        assert!(!dir.join(".install.lock").exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
