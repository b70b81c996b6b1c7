//! `kiln convert`: rewrite removed API versions where the migration is mechanical.

use std::path::Path;

use crate::cli::ConvertArgs;
use crate::command::Output;
use crate::error::Error;

/// Run `kiln convert`.
pub fn run(_dir: &Path, _args: &ConvertArgs) -> Result<Output, Error> {
    Err(Error::run("kiln convert is being written"))
}
