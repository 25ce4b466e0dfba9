//! Which test tools this machine has, so a test that needs a missing one shows as *ignored*,
//! with the reason, in `cargo test`'s summary (not as a pass that only said so on stderr).
//! With `RECERT_REQUIRE_TEST_TOOLS` set (`.ci/run` sets it, after installing them) a missing
//! tool fails the build instead. Nothing else is affected: building recert, or a crate that
//! uses it, never needs these tools.

use std::path::{Path, PathBuf};

fn on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
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
