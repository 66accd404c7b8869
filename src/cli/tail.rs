//! `tail`: prints an output file's records, like kcat for files.

use anyhow::Context;
use serde_json::Value;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
pub struct TailArgs {
    /// A JSON-lines output file (decisions, alerts, cases or dead letters).
    #[arg(long, required_unless_present = "kinesis")]
    file: Option<PathBuf>,
    /// Read this Kinesis stream instead, from its oldest record.
    #[arg(long, conflicts_with = "file")]
    kinesis: Option<String>,
    /// Keep printing records as they are appended.
    #[arg(long, short)]
    follow: bool,
    /// Print the raw JSON instead of one readable line per record.
    #[arg(long)]
    json: bool,
    /// Start with only the last N records.
    #[arg(long, short = 'n')]
    lines: Option<usize>,
}

pub fn tail(args: TailArgs) -> anyhow::Result<ExitCode> {
    let path = match (&args.file, &args.kinesis) {
        (_, Some(stream)) => {
            let json = args.json;
            super::kinesis::tail(stream, args.follow, args.lines, |payload| {
                let line = String::from_utf8_lossy(payload);
                if json {
                    line.into_owned()
                } else {
                    pretty(&line)
                }
            })?;
            return Ok(ExitCode::SUCCESS);
        }
        (Some(path), None) => path,
        (None, None) => anyhow::bail!("give --file or --kinesis"),
    };
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = BufReader::new(file);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let skip = match args.lines {
        Some(keep) => count_lines(&mut reader)?.saturating_sub(keep),
        None => 0,
    };
    let mut line = String::new();
    let mut seen = 0usize;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            if !args.follow {
                break;
            }
            out.flush()?;
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        seen += 1;
        if seen <= skip || line.trim().is_empty() {
            continue;
        }
        let printed = if args.json {
            line.trim_end().to_owned()
        } else {
            pretty(line.trim_end())
        };
        if writeln!(out, "{printed}").is_err() {
            break; // the reader went away (`| head`)
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn count_lines(reader: &mut BufReader<File>) -> anyhow::Result<usize> {
    let count = std::io::Read::by_ref(reader).lines().count();
    reader.seek(SeekFrom::Start(0))?;
    Ok(count)
}

/// One line per record, by what the record is.
fn pretty(line: &str) -> String {
    let Ok(record) = serde_json::from_str::<Value>(line) else {
        return format!("(not JSON) {line}");
    };
    let text = |key: &str| {
        record
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_owned()
    };
    let number = |key: &str| {
        record
            .get(key)
            .map(Value::to_string)
            .unwrap_or_else(|| "-".into())
    };
    let codes = |key: &str| -> String {
        let items = record
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        items
            .iter()
            .map(|item| {
                item.get("code")
                    .and_then(Value::as_str)
                    .or(item.as_str())
                    .unwrap_or("?")
                    .to_owned()
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    if record.get("case_id").is_some() {
        format!(
            "CASE {} {} risk {} {}",
            text("case_id"),
            text("action"),
            number("risk_score"),
            codes("reasons")
        )
    } else if record.get("alert_id").is_some() {
        format!(
            "ALERT {} {} {}",
            text("severity"),
            text("customer_id"),
            text("summary")
        )
    } else if record.get("decision_id").is_some() {
        format!(
            "{} {:<7} {:>3} {} {} {}",
            text("event_time"),
            text("action"),
            number("risk_score"),
            text("customer_id"),
            text("transaction_id"),
            codes("reasons")
        )
    } else if record.get("payload_len").is_some() {
        format!(
            "DEAD {} {} {}: {}",
            text("kind"),
            text("source"),
            text("position"),
            text("reason")
        )
    } else {
        line.to_owned()
    }
}
