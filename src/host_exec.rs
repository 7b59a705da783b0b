//! Handing a command to `exp-host`, the binary beside `exp` that loads plugins (and with them
//! libtorch). On Unix the process becomes `exp-host` (`exec`): same process id, arguments,
//! standard streams and signals, so a command that goes there behaves exactly as if `exp-host`
//! had been started; elsewhere `exp` waits for it and exits with its status.

use std::ffi::OsString;
use std::process::Command;

use crate::plugin_files::binary_dir;
use crate::schema_cache::HOST_BINARY;
use crate::Exit;

/// Where `exp-host` is: beside the running binary.
pub fn host_binary() -> Option<std::path::PathBuf> {
    binary_dir()
        .map(|dir| dir.join(HOST_BINARY))
        .filter(|path| path.is_file())
}

/// Runs `exp-host` with this process's arguments; returns only if it cannot be started (or,
/// off Unix, with its exit code).
pub fn exec_host() -> Exit {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let Some(host) = host_binary() else {
        eprintln!(
            "error: `{HOST_BINARY}` is missing beside `exp`: it loads plugins and runs experiments; build it with `cargo build --workspace` (or reinstall exp)"
        );
        return Exit::Fatal;
    };
    let mut command = Command::new(&host);
    command.args(args);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        let error = command.exec();
        eprintln!("error: cannot start `{}`: {error}", host.display());
        Exit::Fatal
    }
    #[cfg(not(unix))]
    {
        match command.status() {
            Ok(status) => match status.code() {
                Some(0) => Exit::Success,
                Some(1) => Exit::NodesFailed,
                Some(2) => Exit::InvalidInput,
                Some(130) => Exit::Interrupted,
                _ => Exit::Fatal,
            },
            Err(error) => {
                eprintln!("error: cannot start `{}`: {error}", host.display());
                Exit::Fatal
            }
        }
    }
}
