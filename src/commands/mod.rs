//! The subcommands.

pub mod generate;
pub mod graph;
pub mod plugins;
pub mod progress;
pub mod run;
pub mod validate;

/// How a command failed, which sets the exit code.
pub enum Failure {
    /// A config or argument problem (exit 2); the message is printed as is.
    BadInput(String),
    /// A failure while running (exit 1).
    Runtime(String),
}

/// Loads and validates a pipeline, turning problems into exit code 2.
pub fn load(path: &std::path::Path, sets: &[String]) -> Result<netanom_config::Pipeline, Failure> {
    netanom_config::load(path, sets).map_err(|problems| Failure::BadInput(problems.to_string()))
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
pub fn print(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}
