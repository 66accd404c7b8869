//! The `--console` flags shared by `run` and `demo`.

use fraud_detector::console::{AccessConfig, Console, ConsoleConfig};
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(clap::Args, Clone, Default)]
pub struct ConsoleArgs {
    /// Serve the analyst console at /console on the --http address.
    #[arg(long, env = "FD_CONSOLE")]
    pub console: bool,
    /// The API token analysts sign in with (default: a random one, printed at start).
    #[arg(long, env = "FD_CONSOLE_TOKEN", hide_env_values = true)]
    pub console_token: Option<String>,
    /// Trust this header, set by an authenticating proxy, to name the analyst (e.g. X-Forwarded-Email).
    #[arg(long, env = "FD_CONSOLE_TRUSTED_HEADER")]
    pub console_trusted_header: Option<String>,
    /// The agent's case store to show under Cases (its `tools.case_dir`).
    #[arg(long, env = "FD_CONSOLE_CASES")]
    pub console_cases: Option<std::path::PathBuf>,
}

impl ConsoleArgs {
    pub fn build(&self, http: Option<SocketAddr>) -> anyhow::Result<Option<Arc<Console>>> {
        if !self.console {
            return Ok(None);
        }
        let Some(address) = http else {
            anyhow::bail!("--console needs --http ADDRESS to serve the page on");
        };
        let console = Console::new(ConsoleConfig {
            access: AccessConfig {
                token: self.console_token.clone(),
                trusted_header: self.console_trusted_header.clone(),
            },
            ring: 0,
            cases: self.console_cases.clone(),
        });
        if self.console_token.is_some() {
            eprintln!("analyst console: http://{address}/console (sign in with FD_CONSOLE_TOKEN)");
        } else {
            // Generated: the operator has no other way to learn it.
            eprintln!(
                "analyst console: http://{address}/console#token={}",
                console.token()
            );
        }
        Ok(Some(console))
    }
}
