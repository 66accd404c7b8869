//! `healthcheck`: asks a running detector's /healthz, for container
//! HEALTHCHECKs in images that have no shell or curl.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
pub struct HealthcheckArgs {
    /// Where the detector serves its probes (`run --http`).
    #[arg(long, env = "FD_HEALTHCHECK_ADDRESS", default_value = "127.0.0.1:9100")]
    address: SocketAddr,
    /// `/healthz` (alive) or `/readyz` (sources and sinks running).
    #[arg(long, default_value = "/healthz")]
    path: String,
}

pub fn healthcheck(args: HealthcheckArgs) -> anyhow::Result<ExitCode> {
    match probe(&args) {
        Ok(200) => Ok(ExitCode::SUCCESS),
        Ok(status) => {
            eprintln!("{}{}: HTTP {status}", args.address, args.path);
            Ok(ExitCode::FAILURE)
        }
        Err(error) => {
            eprintln!("{}{}: {error}", args.address, args.path);
            Ok(ExitCode::FAILURE)
        }
    }
}

fn probe(args: &HealthcheckArgs) -> std::io::Result<u16> {
    let timeout = Duration::from_secs(2);
    let mut stream = TcpStream::connect_timeout(&args.address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        args.path, args.address
    )?;
    let mut head = [0u8; 32];
    let read = stream.read(&mut head)?;
    let status_line = String::from_utf8_lossy(&head[..read]);
    Ok(status_line
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or(0))
}
