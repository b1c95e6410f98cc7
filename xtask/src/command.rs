//! Running external programs, and the error type of the tasks.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::Path;
use std::process;

/// A task failure, whose message states what failed and what to do next.
#[derive(Debug)]
pub struct Error(String);

impl Error {
    pub fn new(message: impl Into<String>) -> Error {
        Error(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A program to run, which prints its command line before it starts.
pub struct Command {
    inner: process::Command,
    display: String,
}

impl Command {
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        let program = program.as_ref();
        Command {
            inner: process::Command::new(program),
            display: program.to_string_lossy().into_owned(),
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Command {
        let arg = arg.as_ref();
        self.display.push(' ');
        self.display.push_str(&arg.to_string_lossy());
        self.inner.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for arg in args {
            self = self.arg(arg);
        }
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Command {
        self.inner.current_dir(dir);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Command {
        self.inner.env(key, value);
        self
    }

    /// Runs the program with inherited standard streams and fails unless it
    /// exits with status 0.
    pub fn run(mut self) -> Result<(), Error> {
        println!("$ {}", self.display);
        let status = self
            .inner
            .status()
            .map_err(|error| Error::new(format!("failed to start `{}`: {error}", self.display)))?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::new(format!("`{}` failed: {status}", self.display)))
        }
    }

    /// Runs the program quietly and returns its standard output, or `None`
    /// when it cannot start or exits with a non-zero status.
    pub fn output_text(mut self) -> Option<String> {
        let output = self.inner.stderr(process::Stdio::null()).output().ok()?;
        if output.status.success() {
            Some(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            None
        }
    }
}

/// Returns a `Command` for the cargo that runs this task, or for `cargo` on
/// PATH when the task was started some other way.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")))
}

/// Returns whether `program` is an executable file in one of the PATH folders.
pub fn is_on_path(program: &str, path: &OsStr) -> bool {
    std::env::split_paths(path).any(|dir| is_executable(&dir.join(program)))
}

fn is_executable(file: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;

    file.metadata()
        .map(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
