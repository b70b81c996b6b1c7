//! `kiln schemas import` and `kiln schemas list`.

use std::path::Path;

use crate::cli::SchemasCommand;
use crate::command::Output;
use crate::error::Error;

/// Run `kiln schemas ...`.
pub fn run(_dir: &Path, _cmd: &SchemasCommand) -> Result<Output, Error> {
    Err(Error::run("kiln schemas is being written"))
}
