//! `kiln explain`: what a rule catches, why it matters, how to fix it, how to suppress it.

use std::fmt::Write as _;

use crate::cli::ExplainArgs;
use crate::command::Output;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::error::Error;
use crate::report::{RULES, SUPPRESS};

/// Run `kiln explain`.
pub fn run(args: &ExplainArgs) -> Result<Output, Error> {
    if args.list {
        let width = RULES.iter().map(|r| r.0.len()).max().unwrap_or(0);
        let mut text = String::new();
        for (id, what, _, _) in RULES {
            let _ = writeln!(text, "{id:width$}  {what}");
        }
        return Ok(Output {
            stdout: text,
            code: 0,
        });
    }
    let rule = args.rule.as_deref().unwrap_or_default();
    let Some((id, what, why, fix)) = RULES.iter().find(|r| r.0 == rule) else {
        let mut d = Diagnostic::error(format!("unknown rule `{rule}`"));
        d = match did_you_mean(rule, RULES.iter().map(|r| r.0)) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help("`kiln explain --list` lists every rule"),
        };
        return Err(Error::Run(d));
    };
    let text = format!(
        "{id}\n\n  catches:  {what}\n  why:      {why}\n  fix:      {fix}\n  suppress: {}\n",
        SUPPRESS.replace("<rule>", id)
    );
    Ok(Output {
        stdout: text,
        code: 0,
    })
}
