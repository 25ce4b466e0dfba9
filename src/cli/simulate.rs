//! `recert sim`: the provider simulator served until killed.

use super::*;

pub struct SimArgs {
    pub listen: std::net::SocketAddr,
    pub size: Size,
    pub seed: u64,
    pub latency_ms: u64,
    pub faults: Option<String>,
    pub key: String,
    pub truth: Option<PathBuf>,
    pub write_config: Option<PathBuf>,
    pub request_log: Option<PathBuf>,
    /// Writes allowed per minute across the simulated providers (429 beyond it).
    pub write_limit: Option<u32>,
    pub hostile: bool,
    /// The directory API a written config reads.
    pub directory: sim::Directory,
}

/// `recert sim`: serve until killed; print one JSON line of base URLs once listening.
pub async fn sim(a: SimArgs) -> Result<()> {
    let faults = match &a.faults {
        Some(spec) => sim::faults::Faults::parse(spec).context("--faults")?,
        None => Default::default(),
    };
    let opts = SimOptions {
        listen: a.listen,
        size: a.size,
        seed: a.seed,
        latency: std::time::Duration::from_millis(a.latency_ms),
        faults,
        key: a.key,
        request_log: a.request_log.clone(),
        write_limit: a
            .write_limit
            .map(|n| (n, std::time::Duration::from_secs(60))),
        hostile: a.hostile,
        ..Default::default()
    };
    let running = sim::start(opts)
        .await
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    if let Some(path) = &a.truth {
        let truth = sim::truth_for(&running.state.world.read().unwrap(), a.directory);
        write_file(path, &crate::model::text::json_pretty(&truth)?)?;
    }
    if let Some(path) = &a.write_config {
        write_file(path, &running.config_toml_with(a.directory))?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", running.urls_json())?;
    out.flush()?;
    drop(out);
    shutdown_signal().await;
    running.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
