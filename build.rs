//! Two things. First, a hash of the sources (`RECERT_SOURCE_HASH`): a stored digest is keyed
//! by the code that judged it (`reconcile::digest::BUILD`), and a version number alone does
//! not change between two builds of a checkout.
//!
//! Second, which test tools this machine has, so a test that needs a missing one shows as
//! *ignored*, with the reason, in `cargo test`'s summary (not as a pass that only said so on
//! stderr). With `RECERT_REQUIRE_TEST_TOOLS` set (`.ci/run` sets it, after installing them) a
//! missing tool fails the build instead. Building recert, or a crate that uses it, never needs
//! these tools.

use std::path::{Path, PathBuf};

/// The files under `dir` that go into the build: sources and what they include, not dotfiles
/// (an editor's swap file), nor insta's snapshots (`snapshots/`, `*.snap.new`, read by tests
/// at run time). Symbolic links are not followed.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let (p, name) = (e.path(), e.file_name().to_string_lossy().into_owned());
        let Ok(kind) = e.file_type() else { continue };
        if name.starts_with('.') || name == "snapshots" || name.contains(".snap") {
            continue;
        }
        if kind.is_dir() {
            files(&p, out);
        } else if kind.is_file() {
            out.push(p);
        }
    }
}

/// FNV-1a over the sources' paths and bytes: a cache key, not a defence (the store is the
/// user's own). Each file hashed is one cargo watches.
fn source_hash(root: &Path) -> String {
    let mut paths = Vec::new();
    files(&root.join("src"), &mut paths);
    paths.sort();
    for p in &paths {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for p in paths {
        let rel = p.strip_prefix(root).unwrap_or(&p);
        eat(rel.to_string_lossy().as_bytes());
        eat(&[0]);
        eat(&std::fs::read(&p).unwrap_or_default());
        eat(&[0]);
    }
    format!("{h:016x}")
}

fn on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    println!("cargo:rustc-env=RECERT_SOURCE_HASH={}", source_hash(&root));
    for var in [
        "PATH",
        "RECERT_SCIM2_SERVER",
        "RECERT_REQUIRE_TEST_TOOLS",
        "RECERT_TEST_POSTGRES",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo::rustc-check-cfg=cfg(no_tmux)");
    println!("cargo::rustc-check-cfg=cfg(no_scim_peer)");
    println!("cargo::rustc-check-cfg=cfg(no_postgres)");
    let required = std::env::var_os("RECERT_REQUIRE_TEST_TOOLS").is_some();
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join(".peers/venv/bin/scim2-server");
    let scim = std::env::var_os("RECERT_SCIM2_SERVER")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| local.is_file().then_some(local))
        .or_else(|| on_path("scim2-server"));
    for (tool, found, cfg) in [
        ("tmux", on_path("tmux"), "no_tmux"),
        ("scim2-server", scim, "no_scim_peer"),
    ] {
        if found.is_none() {
            assert!(
                !required,
                "{tool} is missing but RECERT_REQUIRE_TEST_TOOLS is set: .ci/run installs it before cargo runs"
            );
            println!("cargo:rustc-cfg={cfg}");
        }
    }
    // The PostgreSQL tests need a server: scripts/pg-test-cluster starts a private one and
    // sets RECERT_TEST_POSTGRES=1 beside the server's address (RECERT_TEST_DATABASE_URL, read
    // by the tests when they run: cargo records the value of what a build script watches,
    // and that address holds the server's password).
    let pg = std::env::var("RECERT_TEST_POSTGRES").is_ok_and(|v| v == "1");
    if !pg {
        assert!(
            !required,
            "RECERT_TEST_POSTGRES is unset but RECERT_REQUIRE_TEST_TOOLS is set: .ci/run starts a PostgreSQL cluster before cargo runs"
        );
        println!("cargo:rustc-cfg=no_postgres");
    }
}
