//! `piranha-passwd [--file PATH] [PASSWORD]`: sets the web tool's password
//! (user `piranha`, bcrypt) in its password file. See piranha-passwd(8).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use piranha_gui::passwd;

/// Sets the password of the Piranha Configuration Tool (user piranha).
/// Without PASSWORD it asks twice, without echo.
#[derive(Debug, Parser)]
#[command(name = "piranha-passwd", version, about, long_about = None)]
struct Options {
    /// The password file.
    #[arg(long, value_name = "PATH", default_value = passwd::DEFAULT_FILE)]
    file: PathBuf,

    /// The new password (visible to other users in the process list: leave
    /// it out to be asked instead).
    #[arg(value_name = "PASSWORD")]
    password: Option<String>,
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("piranha-passwd: {msg}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let opts = Options::parse();
    let password = match opts.password {
        Some(p) => p,
        None => {
            let first = match rpassword::prompt_password("New Password: ") {
                Ok(p) => p,
                Err(e) => return fail(&format!("cannot read the password: {e}")),
            };
            let again = match rpassword::prompt_password("Verify: ") {
                Ok(p) => p,
                Err(e) => return fail(&format!("cannot read the password: {e}")),
            };
            if first != again {
                return fail("the passwords do not match; nothing changed");
            }
            first
        }
    };
    if password.is_empty() {
        return fail("an empty password is not allowed; nothing changed");
    }
    let hash = match passwd::hash(&password) {
        Ok(h) => h,
        Err(e) => return fail(&e),
    };
    // SAFETY: geteuid cannot fail
    let euid = unsafe { libc::geteuid() };
    let owner = |existing| passwd::owner_for(existing, euid, passwd::piranha_ids());
    if let Err(e) = passwd::store_as(&opts.file, passwd::USER, &hash, owner) {
        return fail(&e);
    }
    println!(
        "Updated password for user {} in {}",
        passwd::USER,
        opts.file.display()
    );
    ExitCode::SUCCESS
}
