//! Docker's `--format`: Go's text/template language over the JSON that box shows, with
//! Docker's extra functions (`json`, `join`, `upper`, ...), `table` headers and `json`.
//!
//! Written here rather than taken from the `gtmpl` crate: gtmpl prints lists and maps
//! with Rust's `Debug` (`{{.Config.Cmd}}` gives `[String("sh")]`, Docker `[sh]`), ranges
//! over maps in hash order, has no methods with arguments (`{{.Label "tier"}}`), loses
//! the order of JSON objects (`{{json .State}}`) and cannot quote (`%q`). Those are what
//! Docker users type, and patching them from outside meant lexing templates anyway.
//!
//! Values are `serde_json` values. JSON objects stand for Go structs (a missing field is
//! an error, as Go's "can't evaluate field") unless reached through a key that is a map
//! in Docker's types (`Labels`, `Networks`, `Ports`, ...), where a missing key prints
//! `<no value>` and `range` goes in key order, as Go's maps do.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

mod exec;
mod funcs;
mod lex;
mod parse;
#[cfg(test)]
mod tests;

pub use exec::go_quote;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Docker says "template parsing error" for templates that do not parse.
    #[error("template parsing error: template: :{line}: {msg}")]
    Parse { line: usize, msg: String },
    #[error("template: :{line}:{col}: executing \"\" at <{at}>: {msg}")]
    Exec {
        line: usize,
        col: usize,
        at: String,
        msg: String,
    },
}

/// A parsed template, ready to run on any number of values.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<parse::Node>,
}

/// A method of the template's top-level value (`{{.Label "tier"}}`): called with the
/// method's name and arguments, `None` when there is no such method.
pub type Methods<'a> = &'a dyn Fn(&str, &[Value]) -> Option<Result<Value, String>>;

/// For values without methods.
pub fn no_methods(_: &str, _: &[Value]) -> Option<Result<Value, String>> {
    None
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, Error> {
        Ok(Template {
            nodes: parse::parse(lex::split(src)?)?,
        })
    }

    /// Runs the template on `dot`.
    pub fn execute(&self, dot: &Value, methods: Methods) -> Result<String, Error> {
        self.run(dot, methods, false)
    }

    fn run(&self, dot: &Value, methods: Methods, header: bool) -> Result<String, Error> {
        exec::run(&self.nodes, dot, methods, header)
    }
}

fn parse_err(line: usize, msg: impl Into<String>) -> Error {
    Error::Parse {
        line,
        msg: msg.into(),
    }
}

// ---------------------------------------------------------------------------------
// Docker's `--format` for lists (`ps`, `images`) and objects (`inspect`, `info`).

/// One item of a listing.
pub struct Row {
    /// Docker's fields for the item, by their template names (`ID`, `Names`, ...).
    pub fields: Map<String, Value>,
    /// What `{{.Label "key"}}` reads.
    pub labels: BTreeMap<String, String>,
}

/// What `--format` asks a listing command for.
#[derive(Debug)]
pub enum Listing {
    /// No `--format`, or `table`: the command's own columns.
    Default,
    /// One JSON object per line.
    Json,
    /// The template, once per item.
    Lines(Template),
    /// `table TEMPLATE`: a header row, and columns split at tabs and aligned.
    Table(Template),
}

impl Listing {
    /// Docker's reading of the flag: `table` and `json` are keywords, and `\t` and
    /// `\n` written as two characters (as shells pass them) are a tab and a newline.
    pub fn parse(arg: Option<&str>) -> Result<Listing, Error> {
        let Some(arg) = arg else {
            return Ok(Listing::Default);
        };
        let arg = arg.trim_matches(' ');
        let (table, rest) = match arg.strip_prefix("table") {
            Some(rest) => (true, rest.trim_matches(' ')),
            None => (false, arg),
        };
        if rest.is_empty() {
            return Ok(Listing::Default);
        }
        if !table && rest == "json" {
            return Ok(Listing::Json);
        }
        let src = rest.replace("\\t", "\t").replace("\\n", "\n");
        let t = Template::parse(&src)?;
        Ok(if table {
            Listing::Table(t)
        } else {
            Listing::Lines(t)
        })
    }

    pub fn is_default(&self) -> bool {
        matches!(self, Listing::Default)
    }

    /// The listing's text; `headers` names each field's column for `table`.
    pub fn render(&self, headers: &[(&str, &str)], rows: &[Row]) -> Result<String, Error> {
        let run = |t: &Template, r: &Row| {
            let root = Value::Object(r.fields.clone());
            let label = |name: &str, args: &[Value]| -> Option<Result<Value, String>> {
                (name == "Label").then(|| match args {
                    [Value::String(k)] => {
                        Ok(Value::from(r.labels.get(k).cloned().unwrap_or_default()))
                    }
                    _ => Err(format!(
                        "wrong number of args for Label: want 1 got {}",
                        args.len()
                    )),
                })
            };
            t.execute(&root, &label)
        };
        match self {
            Listing::Default => Ok(String::new()),
            Listing::Json => Ok(rows
                .iter()
                .map(|r| {
                    serde_json::to_string(&Value::Object(exec::sorted(r.fields.clone())))
                        .unwrap_or_default()
                        + "\n"
                })
                .collect()),
            Listing::Lines(t) => {
                let mut out = String::new();
                for r in rows {
                    out.push_str(&run(t, r)?);
                    out.push('\n');
                }
                Ok(out)
            }
            Listing::Table(t) => {
                let mut lines = Vec::new();
                for r in rows {
                    lines.push(run(t, r)?);
                }
                let names: Map<String, Value> = headers
                    .iter()
                    .map(|(f, h)| (f.to_string(), Value::from(*h)))
                    .collect();
                let label = |name: &str, args: &[Value]| -> Option<Result<Value, String>> {
                    (name == "Label").then(|| {
                        let key = args.first().and_then(Value::as_str).unwrap_or("");
                        let last = key.rsplit('.').next().unwrap_or(key);
                        Ok(Value::from(last.to_uppercase()))
                    })
                };
                let header = t.run(&Value::Object(names), &label, true)?;
                let cells = |text: &str| -> Vec<Vec<String>> {
                    text.split('\n')
                        .map(|l| l.split('\t').map(str::to_string).collect())
                        .collect()
                };
                let head = cells(&header);
                let mut body: Vec<Vec<String>> = lines.iter().flat_map(|l| cells(l)).collect();
                // The header is one line; any further lines it has are rows.
                let mut head_iter = head.into_iter();
                let mut first = head_iter.next().unwrap_or_default();
                let extra: Vec<Vec<String>> = head_iter.collect();
                body.splice(0..0, extra);
                let width = body
                    .iter()
                    .map(Vec::len)
                    .chain([first.len()])
                    .max()
                    .unwrap_or(1);
                first.resize(width, String::new());
                for row in &mut body {
                    row.resize(width, String::new());
                }
                let first: Vec<&str> = first.iter().map(String::as_str).collect();
                let text = super::table(&first, &body);
                Ok(text
                    .lines()
                    .map(|l| l.trim_end().to_string() + "\n")
                    .collect())
            }
        }
    }
}

/// A time as Go's `time.Time.String()` prints it, which Docker's `CreatedAt` fields
/// show ("2026-11-23 11:00:00 +0000 UTC"); always UTC, so scripts can compare them.
pub fn go_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S +0000 UTC")
                .to_string()
        })
        .unwrap_or_default()
}

/// What `--format` asks `inspect` and `info` for: the object as one line of JSON, or
/// a template run on it (without the list commands' `\t` and `table` handling, as
/// Docker's).
#[derive(Debug)]
pub enum Object {
    Json,
    Template(Template),
}

impl Object {
    pub fn parse(arg: &str) -> Result<Object, Error> {
        if arg == "json" {
            return Ok(Object::Json);
        }
        Ok(Object::Template(Template::parse(arg)?))
    }

    /// One object's text, ending in a newline as Docker's.
    pub fn render(&self, v: &Value) -> Result<String, Error> {
        Ok(match self {
            Object::Json => serde_json::to_string(v).unwrap_or_default() + "\n",
            Object::Template(t) => t.execute(v, &no_methods)? + "\n",
        })
    }
}
