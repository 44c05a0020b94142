//! Reading speed: `cargo run --release -p netanom-capture --example readspeed -- FILE [PASSES] [mem]`.
//!
//! Reads every frame (no decoding), touching only its length and first
//! byte, and prints frames/s and MB/s for each pass. With `mem`, the file is
//! loaded into memory first and read from a byte slice (no system calls: the
//! copy into the reader's buffer is then a user-space `memcpy`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use netanom_capture::{CaptureReader, Next};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        eprintln!("usage: readspeed FILE [PASSES]");
        return ExitCode::from(2);
    };
    let passes: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    let in_memory = match args.next().as_deref() {
        Some("mem") => match std::fs::read(&path) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    for pass in 1..=passes {
        match &in_memory {
            Some(bytes) => {
                let reader = CaptureReader::new(&bytes[..], path.display().to_string());
                if !run(pass, reader) {
                    return ExitCode::FAILURE;
                }
            }
            None => {
                if !run(pass, CaptureReader::open(&path)) {
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    ExitCode::SUCCESS
}

/// One pass; false on error.
fn run<R: std::io::Read>(
    pass: u32,
    reader: Result<CaptureReader<R>, netanom_capture::CaptureError>,
) -> bool {
    {
        let start = Instant::now();
        let mut reader = match reader {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                return false;
            }
        };
        let (mut frames, mut bytes, mut check) = (0u64, 0u64, 0u64);
        loop {
            match reader.next() {
                Next::Frame(f) => {
                    frames += 1;
                    bytes += f.data.len() as u64;
                    check = check.wrapping_add(f.ts as u64)
                        ^ u64::from(f.data.first().copied().unwrap_or(0));
                }
                Next::Skipped(e) => eprintln!("skipped: {e}"),
                Next::End { partial } => {
                    if partial > 0 {
                        eprintln!("{}", reader.truncated_error(partial));
                    }
                    break;
                }
                Next::Fatal(e) => {
                    eprintln!("{e}");
                    return false;
                }
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "pass {pass}: {} {frames} frames, {:.1} MB of packet data in {:.3} s: {:.2} M frames/s, {:.0} MB/s of file (check {check:x})",
            reader.format(),
            bytes as f64 / 1e6,
            secs,
            frames as f64 / secs / 1e6,
            reader.offset() as f64 / secs / 1e6,
        );
    }
    true
}
