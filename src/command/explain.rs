//! `kiln explain`: what a rule catches, why it matters, how to fix it, how to suppress it.

use std::fmt::Write as _;

use crate::check::rule::{self, SUPPRESS};
use crate::cli::ExplainArgs;
use crate::command::Output;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::error::Error;

/// Run `kiln explain`.
pub fn run(args: &ExplainArgs) -> Result<Output, Error> {
    if args.list {
        let width = rule::ALL.iter().map(|r| r.id.len()).max().unwrap_or(0);
        let mut text = String::new();
        for r in rule::ALL {
            let _ = writeln!(text, "{:width$}  {}", r.id, r.what);
        }
        return Ok(Output {
            stdout: text,
            code: 0,
            stderr: String::new(),
        });
    }
    let asked = args.rule.as_deref().unwrap_or_default();
    let Some(r) = rule::find(asked) else {
        let mut d = Diagnostic::error(format!("unknown rule `{asked}`"));
        d = match did_you_mean(asked, rule::ALL.iter().map(|r| r.id)) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help("`kiln explain --list` lists every rule"),
        };
        return Err(Error::Run(d));
    };
    let text = format!(
        "{}\n\n  catches:  {}\n  why:      {}\n  fix:      {}\n  suppress: {}\n",
        r.id,
        r.what,
        r.why,
        r.fix,
        SUPPRESS.replace("<rule>", r.id)
    );
    Ok(Output {
        stdout: text,
        code: 0,
        stderr: String::new(),
    })
}
