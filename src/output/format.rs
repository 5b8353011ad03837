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
use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

/// Keys whose objects are maps in Docker's Go types.
const MAP_KEYS: &[&str] = &[
    "Labels",
    "Options",
    "Data",
    "Tmpfs",
    "Networks",
    "Ports",
    "PortBindings",
    "ExposedPorts",
    "Volumes",
    "Sysctls",
    "DriverOpts",
    "Annotations",
];

/// Functions a template may call: Go's builtins and Docker's additions.
const FUNCS: &[&str] = &[
    "and", "or", "not", "len", "index", "print", "printf", "println", "eq", "ne", "lt", "le", "gt",
    "ge", "json", "split", "join", "title", "lower", "upper", "pad", "truncate",
];

/// Docker's functions that leave a table's header as it is (`{{upper .Names}}` is
/// still headed "NAMES"); `pad` is not among them, so columns stay aligned.
const HEADER_IDENTITY: &[&str] = &[
    "json", "split", "join", "title", "lower", "upper", "truncate",
];

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
    nodes: Vec<Node>,
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
        let items = split(src)?;
        let mut p = Parser {
            items,
            i: 0,
            ranges: 0,
        };
        let (nodes, stop) = p.list()?;
        match stop {
            Stop::Eof => Ok(Template { nodes }),
            Stop::End(line) => Err(parse_err(line, "unexpected {{end}}")),
            Stop::Else(_, line) => Err(parse_err(line, "unexpected {{else}}")),
        }
    }

    /// Runs the template on `dot`.
    pub fn execute(&self, dot: &Value, methods: Methods) -> Result<String, Error> {
        self.run(dot, methods, false)
    }

    fn run(&self, dot: &Value, methods: Methods, header: bool) -> Result<String, Error> {
        let mut ex = Exec {
            root: dot,
            methods,
            header,
            vars: Vec::new(),
            out: String::new(),
        };
        // A header's names are a map in Docker: a field it lacks is no error there.
        let top = match dot {
            Value::Object(m) if header => Val::Map(m.clone()),
            v => Val::Json(v.clone()),
        };
        ex.list(&self.nodes, &top, true)?;
        Ok(ex.out)
    }
}

fn parse_err(line: usize, msg: impl Into<String>) -> Error {
    Error::Parse {
        line,
        msg: msg.into(),
    }
}

// ---------------------------------------------------------------------------------
// Lexing: the template splits into text and actions; an action into tokens.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Dot,
    /// `.A.B`: one or more field names.
    Field(Vec<String>),
    /// `$` or `$x`, with the fields that follow it (`$x.A`).
    Var(String, Vec<String>),
    Ident(String),
    Str(String),
    Num(Number),
    Bool(bool),
    Nil,
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// Byte offset in its line, for error positions as Go gives them.
    col: usize,
    /// Whether whitespace came before it: `(x).A` is a chain, `(x) .A` two arguments.
    spaced: bool,
    src: String,
}

enum Item {
    Text(String),
    Action { toks: Vec<Token>, line: usize },
}

fn line_of(src: &str, at: usize) -> usize {
    1 + src[..at].matches('\n').count()
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Splits a template into text and actions, applying `{{-` and `-}}` trimming and
/// dropping comments.
fn split(src: &str) -> Result<Vec<Item>, Error> {
    let mut items = Vec::new();
    let mut i = 0;
    let mut trim_next = false;
    loop {
        let Some(open) = src[i..].find("{{").map(|o| o + i) else {
            let text = &src[i..];
            let text = if trim_next { text.trim_start() } else { text };
            if !text.is_empty() {
                items.push(Item::Text(text.to_string()));
            }
            return Ok(items);
        };
        let mut text = &src[i..open];
        if trim_next {
            text = text.trim_start();
        }
        let after = open + 2;
        let ltrim =
            src[after..].starts_with('-') && src[after + 1..].chars().next().is_some_and(is_space);
        if ltrim {
            text = text.trim_end();
        }
        if !text.is_empty() {
            items.push(Item::Text(text.to_string()));
        }
        let line = line_of(src, open);
        let body = if ltrim { after + 2 } else { after };
        let rest = &src[body..];
        let comment_at = rest.len() - rest.trim_start_matches(is_space).len();
        if rest[comment_at..].starts_with("/*") && (comment_at == 0 || ltrim) {
            let start = body + comment_at + 2;
            let Some(end) = src[start..].find("*/").map(|e| e + start + 2) else {
                return Err(parse_err(line, "unclosed comment"));
            };
            let tail = &src[end..];
            if tail.starts_with("}}") {
                trim_next = false;
                i = end + 2;
            } else if tail.trim_start_matches(is_space).starts_with("-}}")
                && tail.starts_with(is_space)
            {
                trim_next = true;
                i = end + (tail.len() - tail.trim_start_matches(is_space).len()) + 3;
            } else {
                return Err(parse_err(line, "comment ends before closing delimiter"));
            }
            continue;
        }
        let (toks, end, rtrim) = lex_action(src, body, line)?;
        items.push(Item::Action { toks, line });
        trim_next = rtrim;
        i = end;
    }
}

/// Tokens of one action from `start`; returns them, where the action ends, and
/// whether it ends with `-}}`.
fn lex_action(src: &str, start: usize, line: usize) -> Result<(Vec<Token>, usize, bool), Error> {
    let b = src.as_bytes();
    let mut toks = Vec::new();
    let mut p = start;
    let mut spaced = true;
    loop {
        let ws = p;
        while p < b.len() && is_space(b[p] as char) {
            p += 1;
        }
        if p > ws {
            spaced = true;
            if src[p..].starts_with("-}}") {
                return Ok((toks, p + 3, true));
            }
        }
        if src[p..].starts_with("}}") {
            return Ok((toks, p + 2, false));
        }
        if p >= b.len() {
            return Err(parse_err(line, "unclosed action"));
        }
        let at = p;
        let c = src[p..].chars().next().expect("not at the end");
        let tok = match c {
            '"' => {
                let (s, end) = lex_quoted(src, p, line)?;
                p = end;
                Tok::Str(s)
            }
            '`' => {
                let Some(end) = src[p + 1..].find('`').map(|e| e + p + 1) else {
                    return Err(parse_err(line, "unterminated raw quoted string"));
                };
                let s = src[p + 1..end].to_string();
                p = end + 1;
                Tok::Str(s)
            }
            '\'' => {
                let (s, end) = lex_quoted(src, p, line)?;
                let mut chars = s.chars();
                let (Some(ch), None) = (chars.next(), chars.next()) else {
                    return Err(parse_err(
                        line,
                        format!("malformed character constant: {}", &src[at..end]),
                    ));
                };
                p = end;
                Tok::Num(Number::from(ch as u32))
            }
            '(' => {
                p += 1;
                Tok::LParen
            }
            ')' => {
                p += 1;
                Tok::RParen
            }
            '|' => {
                p += 1;
                Tok::Pipe
            }
            ',' => {
                p += 1;
                Tok::Comma
            }
            '=' => {
                p += 1;
                Tok::Assign
            }
            ':' if src[p..].starts_with(":=") => {
                p += 2;
                Tok::Declare
            }
            '.' if src[p + 1..].starts_with(|c: char| c.is_ascii_digit()) => {
                let (n, end) = lex_number(src, p, line)?;
                p = end;
                Tok::Num(n)
            }
            '.' => {
                let (fields, end) = lex_fields(src, p);
                p = end;
                if fields.is_empty() {
                    p += 1;
                    Tok::Dot
                } else {
                    Tok::Field(fields)
                }
            }
            '$' => {
                let end = ident_end(src, p + 1);
                let name = src[p..end].to_string();
                let (fields, end) = lex_fields(src, end);
                p = end;
                Tok::Var(name, fields)
            }
            '-' | '+' | '0'..='9' => {
                let (n, end) = lex_number(src, p, line)?;
                p = end;
                Tok::Num(n)
            }
            c if c.is_alphabetic() || c == '_' => {
                let end = ident_end(src, p);
                let word = &src[p..end];
                p = end;
                match word {
                    "true" => Tok::Bool(true),
                    "false" => Tok::Bool(false),
                    "nil" => Tok::Nil,
                    w => Tok::Ident(w.to_string()),
                }
            }
            c => return Err(parse_err(line, format!("unexpected {c:?} in command"))),
        };
        toks.push(Token {
            tok,
            col: at - src[..at].rfind('\n').map_or(0, |n| n + 1),
            spaced,
            src: src[at..p].to_string(),
        });
        spaced = false;
    }
}

fn ident_end(src: &str, from: usize) -> usize {
    src[from..]
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map_or(src.len(), |e| e + from)
}

/// `.A.B.C` from `p` (at a dot): the names and where they end.
fn lex_fields(src: &str, mut p: usize) -> (Vec<String>, usize) {
    let mut fields = Vec::new();
    while src[p..].starts_with('.')
        && src[p + 1..].starts_with(|c: char| c.is_alphabetic() || c == '_')
    {
        let end = ident_end(src, p + 1);
        fields.push(src[p + 1..end].to_string());
        p = end;
    }
    (fields, p)
}

fn lex_number(src: &str, p: usize, line: usize) -> Result<(Number, usize), Error> {
    let b = src.as_bytes();
    let mut end = p;
    if matches!(b[end], b'+' | b'-') {
        end += 1;
    }
    while end < b.len() {
        let c = b[end];
        let exp_sign = matches!(c, b'+' | b'-')
            && end > p
            && matches!(b[end - 1], b'e' | b'E' | b'p' | b'P')
            && !src[p..end].contains(['x', 'X']);
        if c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || exp_sign {
            end += 1;
        } else {
            break;
        }
    }
    let text: String = src[p..end].chars().filter(|c| *c != '_').collect();
    let (neg, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text.trim_start_matches('+')),
    };
    let radix = |prefix: [&str; 2], r: u32| {
        prefix
            .iter()
            .find_map(|pre| digits.strip_prefix(pre))
            .and_then(|d| i64::from_str_radix(d, r).ok())
    };
    let int = radix(["0x", "0X"], 16)
        .or_else(|| radix(["0o", "0O"], 8))
        .or_else(|| radix(["0b", "0B"], 2))
        .or_else(|| digits.parse::<i64>().ok());
    let n = match int {
        Some(i) => Some(Number::from(if neg { -i } else { i })),
        None => digits
            .parse::<f64>()
            .ok()
            .and_then(|f| Number::from_f64(if neg { -f } else { f })),
    };
    match n {
        Some(n) => Ok((n, end)),
        None => Err(parse_err(
            line,
            format!("bad number syntax: {:?}", &src[p..end]),
        )),
    }
}

/// A Go string or character literal at `p` (its quote): its value and where it ends.
fn lex_quoted(src: &str, p: usize, line: usize) -> Result<(String, usize), Error> {
    let quote = src[p..].chars().next().expect("at a quote");
    let mut out = String::new();
    let mut chars = src[p + 1..].char_indices();
    let bad = || parse_err(line, "unterminated quoted string");
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => return Ok((out, p + 1 + i + 1)),
            '\n' => return Err(bad()),
            '\\' => {
                let (_, e) = chars.next().ok_or_else(bad)?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    '\\' | '"' | '\'' => out.push(e),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String =
                            (0..n).filter_map(|_| chars.next().map(|x| x.1)).collect();
                        let ch = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| parse_err(line, "invalid escape in quoted string"))?;
                        out.push(ch);
                    }
                    _ => return Err(parse_err(line, format!("unknown escape sequence: \\{e}"))),
                }
            }
            c => out.push(c),
        }
    }
    Err(bad())
}

// ---------------------------------------------------------------------------------
// Parsing.

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Print(Pipe),
    If {
        pipe: Pipe,
        then: Vec<Node>,
        otherwise: Vec<Node>,
        with: bool,
    },
    Range {
        pipe: Pipe,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
    Break,
    Continue,
}

#[derive(Debug, Clone)]
struct Pipe {
    decl: Vec<String>,
    /// `$x = ...` assigns an existing variable; `$x := ...` declares one.
    assign: bool,
    cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
struct Cmd {
    args: Vec<Operand>,
    line: usize,
    col: usize,
    src: String,
}

#[derive(Debug, Clone)]
enum Operand {
    Dot,
    Nil,
    Lit(Value),
    Field(Vec<String>),
    Var(String, Vec<String>),
    Func(String),
    Sub(Box<Pipe>, Vec<String>),
}

enum Stop {
    Eof,
    End(usize),
    Else(Vec<Token>, usize),
}

struct Parser {
    items: Vec<Item>,
    i: usize,
    /// How many `range`s enclose the current point, for `break` and `continue`.
    ranges: usize,
}

struct Cursor<'t> {
    toks: &'t [Token],
    pos: usize,
    line: usize,
}

impl Parser {
    fn list(&mut self) -> Result<(Vec<Node>, Stop), Error> {
        let mut nodes = Vec::new();
        while self.i < self.items.len() {
            let i = self.i;
            self.i += 1;
            let (toks, line) = match &self.items[i] {
                Item::Text(t) => {
                    nodes.push(Node::Text(t.clone()));
                    continue;
                }
                Item::Action { toks, line } => (toks.clone(), *line),
            };
            let keyword = match toks.first().map(|t| &t.tok) {
                Some(Tok::Ident(k)) => k.as_str(),
                _ => "",
            };
            let cur = |from: usize| Cursor {
                toks: &toks[from..],
                pos: 0,
                line,
            };
            match keyword {
                "end" | "break" | "continue" if toks.len() > 1 => {
                    return Err(parse_err(
                        line,
                        format!("unexpected {} in {keyword}", toks[1].src),
                    ))
                }
                "end" => return Ok((nodes, Stop::End(line))),
                "else" => return Ok((nodes, Stop::Else(toks[1..].to_vec(), line))),
                "if" | "with" => nodes.push(self.branch(keyword, cur(1))?),
                "range" => nodes.push(self.range(cur(1))?),
                "break" | "continue" if self.ranges == 0 => {
                    return Err(parse_err(
                        line,
                        format!("{{{{{keyword}}}}} outside {{{{range}}}}"),
                    ))
                }
                "break" => nodes.push(Node::Break),
                "continue" => nodes.push(Node::Continue),
                "define" | "template" | "block" => {
                    return Err(parse_err(
                        line,
                        format!("{{{{{keyword}}}}} is not supported in box's --format"),
                    ))
                }
                _ => {
                    let mut c = cur(0);
                    let pipe = c.pipe("command", 1)?;
                    nodes.push(Node::Print(pipe));
                }
            }
        }
        Ok((nodes, Stop::Eof))
    }

    fn branch(&mut self, keyword: &str, mut c: Cursor) -> Result<Node, Error> {
        let line = c.line;
        let pipe = c.pipe(keyword, 1)?;
        let (then, stop) = self.list()?;
        let otherwise = match stop {
            Stop::Eof => return Err(parse_err(line, "unexpected EOF")),
            Stop::End(_) => Vec::new(),
            Stop::Else(rest, else_line) => match rest.first().map(|t| &t.tok) {
                None => self.until_end(line)?,
                Some(Tok::Ident(k)) if k == "if" || k == "with" => {
                    let k = k.clone();
                    vec![self.branch(
                        &k,
                        Cursor {
                            toks: &rest[1..],
                            pos: 0,
                            line: else_line,
                        },
                    )?]
                }
                Some(_) => {
                    return Err(parse_err(
                        else_line,
                        format!("unexpected {} in else", rest[0].src),
                    ))
                }
            },
        };
        Ok(Node::If {
            pipe,
            then,
            otherwise,
            with: keyword == "with",
        })
    }

    fn range(&mut self, mut c: Cursor) -> Result<Node, Error> {
        let line = c.line;
        let pipe = c.pipe("range", 2)?;
        self.ranges += 1;
        let body = self.list();
        self.ranges -= 1;
        let (body, stop) = body?;
        let otherwise = match stop {
            Stop::Eof => return Err(parse_err(line, "unexpected EOF")),
            Stop::End(_) => Vec::new(),
            Stop::Else(rest, _) if rest.is_empty() => self.until_end(line)?,
            Stop::Else(rest, else_line) => {
                return Err(parse_err(
                    else_line,
                    format!("unexpected {} in else", rest[0].src),
                ))
            }
        };
        Ok(Node::Range {
            pipe,
            body,
            otherwise,
        })
    }

    /// The `{{else}}` branch, which only an `{{end}}` may close.
    fn until_end(&mut self, line: usize) -> Result<Vec<Node>, Error> {
        match self.list()? {
            (nodes, Stop::End(_)) => Ok(nodes),
            (_, Stop::Else(_, l)) => Err(parse_err(l, "expected end; found {{else}}")),
            (_, Stop::Eof) => Err(parse_err(line, "unexpected EOF")),
        }
    }
}

impl Cursor<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn err(&self, msg: impl Into<String>) -> Error {
        parse_err(self.line, msg)
    }

    /// A whole action's pipeline, with up to `max_vars` declared variables.
    fn pipe(&mut self, context: &str, max_vars: usize) -> Result<Pipe, Error> {
        let mut decl = Vec::new();
        let mut assign = false;
        let toks = &self.toks[self.pos..];
        let var = |t: Option<&Token>| match t.map(|t| &t.tok) {
            Some(Tok::Var(v, f)) if f.is_empty() => Some(v.clone()),
            _ => None,
        };
        let is_decl =
            |t: Option<&Token>| matches!(t.map(|t| &t.tok), Some(Tok::Declare | Tok::Assign));
        if let (Some(v), true) = (var(toks.first()), is_decl(toks.get(1))) {
            assign = toks[1].tok == Tok::Assign;
            decl.push(v);
            self.pos += 2;
        } else if let (Some(a), Some(Tok::Comma), Some(b), true) = (
            var(toks.first()),
            toks.get(1).map(|t| &t.tok),
            var(toks.get(2)),
            is_decl(toks.get(3)),
        ) {
            if max_vars < 2 {
                return Err(self.err(format!("too many declarations in {context}")));
            }
            assign = toks[3].tok == Tok::Assign;
            decl = vec![a, b];
            self.pos += 4;
        }
        if self.pos >= self.toks.len() {
            return Err(self.err(format!("missing value for {context}")));
        }
        let p = self.commands(decl, assign)?;
        if let Some(t) = self.toks.get(self.pos) {
            return Err(self.err(format!("unexpected {} in {context}", t.src)));
        }
        Ok(p)
    }

    /// Commands separated by `|`, up to the end of the action or a `)`.
    fn commands(&mut self, decl: Vec<String>, assign: bool) -> Result<Pipe, Error> {
        let mut cmds = Vec::new();
        loop {
            cmds.push(self.command()?);
            match self.peek() {
                Some(Tok::Pipe) => self.pos += 1,
                _ => break,
            }
        }
        Ok(Pipe { decl, assign, cmds })
    }

    fn command(&mut self) -> Result<Cmd, Error> {
        let first = self.toks.get(self.pos).cloned();
        let mut args = Vec::new();
        while let Some(t) = self.peek() {
            if matches!(t, Tok::Pipe | Tok::RParen) {
                break;
            }
            args.push(self.operand()?);
        }
        let Some(first) = first.filter(|_| !args.is_empty()) else {
            return Err(self.err("missing command"));
        };
        Ok(Cmd {
            args,
            line: self.line,
            col: first.col,
            src: first.src,
        })
    }

    fn operand(&mut self) -> Result<Operand, Error> {
        let t = self.toks[self.pos].clone();
        self.pos += 1;
        Ok(match t.tok {
            Tok::Dot => Operand::Dot,
            Tok::Nil => Operand::Nil,
            Tok::Bool(b) => Operand::Lit(Value::Bool(b)),
            Tok::Num(n) => Operand::Lit(Value::Number(n)),
            Tok::Str(s) => Operand::Lit(Value::String(s)),
            Tok::Field(f) => Operand::Field(f),
            Tok::Var(v, f) => Operand::Var(v, f),
            Tok::Ident(name) => {
                if !FUNCS.contains(&name.as_str()) {
                    return Err(self.err(format!("function {name:?} not defined")));
                }
                Operand::Func(name)
            }
            Tok::LParen => {
                let p = self.commands(Vec::new(), false)?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(self.err("unclosed left paren"));
                }
                self.pos += 1;
                let mut fields = Vec::new();
                if let Some(Token {
                    tok: Tok::Field(f),
                    spaced: false,
                    ..
                }) = self.toks.get(self.pos)
                {
                    fields = f.clone();
                    self.pos += 1;
                }
                Operand::Sub(Box::new(p), fields)
            }
            Tok::RParen => return Err(self.err("unexpected right paren")),
            _ => return Err(self.err(format!("unexpected {:?} in operand", t.src))),
        })
    }
}

// ---------------------------------------------------------------------------------
// Execution.

/// A value while a template runs.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    /// A missing map key: Go prints `<no value>`.
    Missing,
    /// A JSON value; an object is a struct.
    Json(Value),
    /// A map: missing keys are no error, ranges and printing go in key order.
    Map(Map<String, Value>),
}

impl Val {
    fn child(key: &str, v: &Value) -> Val {
        match v {
            Value::Object(m) if MAP_KEYS.contains(&key) => Val::Map(m.clone()),
            v => Val::Json(v.clone()),
        }
    }

    fn into_json(self) -> Value {
        match self {
            Val::Missing => Value::Null,
            Val::Json(v) => v,
            Val::Map(m) => Value::Object(sorted(m)),
        }
    }

    fn str(s: impl Into<String>) -> Val {
        Val::Json(Value::String(s.into()))
    }

    fn type_name(&self) -> &'static str {
        match self {
            Val::Missing => "<no value>",
            Val::Map(_) => "map",
            Val::Json(v) => match v {
                Value::Null => "nil",
                Value::Bool(_) => "bool",
                Value::Number(n) if n.is_f64() => "float64",
                Value::Number(_) => "int",
                Value::String(_) => "string",
                Value::Array(_) => "slice",
                Value::Object(_) => "struct",
            },
        }
    }

    fn is_string(&self) -> bool {
        matches!(self, Val::Json(Value::String(_)))
    }

    fn as_int(&self, func: &str) -> Result<i64, String> {
        match self {
            Val::Json(Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| format!("{func}: expected an integer, got {n}")),
            v => Err(format!(
                "wrong type for value in {func}; expected int; got {}",
                v.type_name()
            )),
        }
    }
}

fn sorted(mut m: Map<String, Value>) -> Map<String, Value> {
    m.sort_keys();
    m
}

/// Go's truth: false, 0, nil and empty strings, lists and maps are false; structs true.
fn truth(v: &Val) -> bool {
    match v {
        Val::Missing => false,
        Val::Map(m) => !m.is_empty(),
        Val::Json(v) => match v {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(_) => true,
        },
    }
}

/// Go's `%v`.
fn show(v: &Val) -> String {
    match v {
        Val::Missing => "<no value>".into(),
        Val::Json(v) => show_json(v, false),
        Val::Map(m) => show_map(m),
    }
}

fn show_json(v: &Value, map: bool) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter()
                .map(|e| show_json(e, false))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Value::Object(m) if map => show_map(m),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, e)| show_json(e, MAP_KEYS.contains(&k.as_str())))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

fn show_map(m: &Map<String, Value>) -> String {
    let sorted: BTreeMap<&String, &Value> = m.iter().collect();
    format!(
        "map[{}]",
        sorted
            .iter()
            .map(|(k, v)| format!("{k}:{}", show_json(v, false)))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if c.is_control() && (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

enum Flow {
    Normal,
    Break,
    Continue,
}

struct Exec<'a> {
    root: &'a Value,
    methods: Methods<'a>,
    /// Rendering a table's header: Docker's functions leave their argument as it is.
    header: bool,
    vars: Vec<(String, Val)>,
    out: String,
}

impl Exec<'_> {
    /// Runs nodes; variables declared in them end with them.
    fn list(&mut self, nodes: &[Node], dot: &Val, at_root: bool) -> Result<Flow, Error> {
        let scope = self.vars.len();
        let flow = self.nodes(nodes, dot, at_root);
        self.vars.truncate(scope);
        flow
    }

    fn nodes(&mut self, nodes: &[Node], dot: &Val, at_root: bool) -> Result<Flow, Error> {
        for n in nodes {
            match n {
                Node::Text(t) => self.out.push_str(t),
                Node::Print(p) => {
                    let v = self.pipe(p, dot, at_root)?;
                    if p.decl.is_empty() {
                        let s = show(&v);
                        self.out.push_str(&s);
                    } else {
                        self.bind(p, v)?;
                    }
                }
                Node::If {
                    pipe,
                    then,
                    otherwise,
                    with,
                } => {
                    let scope = self.vars.len();
                    let v = self.pipe(pipe, dot, at_root)?;
                    if !pipe.decl.is_empty() {
                        self.bind(pipe, v.clone())?;
                    }
                    let flow = if truth(&v) {
                        if *with {
                            self.list(then, &v, false)
                        } else {
                            self.list(then, dot, at_root)
                        }
                    } else {
                        self.list(otherwise, dot, at_root)
                    };
                    self.vars.truncate(scope);
                    match flow? {
                        Flow::Normal => {}
                        f => return Ok(f),
                    }
                }
                Node::Range {
                    pipe,
                    body,
                    otherwise,
                } => {
                    let v = self.pipe(pipe, dot, at_root)?;
                    let elems: Vec<(Val, Val)> = match v {
                        Val::Json(Value::Array(a)) => a
                            .into_iter()
                            .enumerate()
                            .map(|(i, e)| (Val::Json(Value::from(i)), Val::Json(e)))
                            .collect(),
                        Val::Map(m) => sorted(m)
                            .into_iter()
                            .map(|(k, e)| (Val::str(k.clone()), Val::child(&k, &e)))
                            .collect(),
                        Val::Json(Value::Object(m)) => m
                            .into_iter()
                            .map(|(k, e)| (Val::str(k.clone()), Val::child(&k, &e)))
                            .collect(),
                        Val::Json(Value::Null) => Vec::new(),
                        Val::Json(Value::Number(n)) if n.as_u64().is_some() => {
                            (0..n.as_u64().unwrap_or(0))
                                .map(|i| (Val::Json(Value::from(i)), Val::Json(Value::from(i))))
                                .collect()
                        }
                        v => {
                            return Err(self.exec_err(
                                &pipe.cmds[0],
                                format!("range can't iterate over {}", show(&v)),
                            ))
                        }
                    };
                    if elems.is_empty() {
                        self.list(otherwise, dot, at_root)?;
                        continue;
                    }
                    for (k, e) in elems {
                        let scope = self.vars.len();
                        match pipe.decl.as_slice() {
                            [v] => self.vars.push((v.clone(), e.clone())),
                            [i, v] => {
                                self.vars.push((i.clone(), k));
                                self.vars.push((v.clone(), e.clone()));
                            }
                            _ => {}
                        }
                        let flow = self.list(body, &e, false);
                        self.vars.truncate(scope);
                        match flow? {
                            Flow::Break => break,
                            Flow::Normal | Flow::Continue => {}
                        }
                    }
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    fn bind(&mut self, p: &Pipe, v: Val) -> Result<(), Error> {
        let name = &p.decl[0];
        if p.assign {
            match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = v,
                None => {
                    return Err(self.exec_err(&p.cmds[0], format!("undefined variable: {name}")))
                }
            }
        } else {
            self.vars.push((name.clone(), v));
        }
        Ok(())
    }

    fn exec_err(&self, cmd: &Cmd, msg: String) -> Error {
        Error::Exec {
            line: cmd.line,
            col: cmd.col,
            at: cmd.src.clone(),
            msg,
        }
    }

    fn pipe(&mut self, p: &Pipe, dot: &Val, at_root: bool) -> Result<Val, Error> {
        let mut v: Option<Val> = None;
        for c in &p.cmds {
            let fin = v.take();
            v = Some(
                self.command(c, dot, at_root, fin)
                    .map_err(|m| self.exec_err(c, m))?,
            );
        }
        Ok(v.unwrap_or(Val::Missing))
    }

    fn command(
        &mut self,
        c: &Cmd,
        dot: &Val,
        at_root: bool,
        fin: Option<Val>,
    ) -> Result<Val, String> {
        let (first, rest) = c.args.split_first().expect("commands have an operand");
        let args = |ex: &mut Self| -> Result<Vec<Val>, String> {
            let mut out = Vec::with_capacity(rest.len() + 1);
            for a in rest {
                out.push(ex.operand(a, dot, at_root)?);
            }
            out.extend(fin.clone());
            Ok(out)
        };
        match first {
            Operand::Func(name) if name == "and" || name == "or" => {
                if rest.is_empty() && fin.is_none() {
                    return Err(format!(
                        "wrong number of args for {name}: want at least 1 got 0"
                    ));
                }
                let mut last = Val::Missing;
                for a in rest {
                    last = self.operand(a, dot, at_root)?;
                    if truth(&last) == (name == "or") {
                        return Ok(last);
                    }
                }
                Ok(fin.unwrap_or(last))
            }
            Operand::Func(name) => {
                let a = args(self)?;
                self.call(name, a)
            }
            Operand::Field(f) => {
                let a = args(self)?;
                self.chain(dot.clone(), at_root, f, a)
            }
            Operand::Var(name, f) if !f.is_empty() => {
                let a = args(self)?;
                let (v, root) = self.var(name)?;
                self.chain(v, root, f, a)
            }
            Operand::Sub(p, f) if !f.is_empty() => {
                let a = args(self)?;
                let v = self.pipe(p, dot, at_root).map_err(|e| e.to_string())?;
                self.chain(v, false, f, a)
            }
            op => {
                if !rest.is_empty() || fin.is_some() {
                    return Err(format!("can't give argument to non-function {}", c.src));
                }
                self.operand(op, dot, at_root)
            }
        }
    }

    fn operand(&mut self, op: &Operand, dot: &Val, at_root: bool) -> Result<Val, String> {
        match op {
            Operand::Dot => Ok(dot.clone()),
            Operand::Nil => Ok(Val::Json(Value::Null)),
            Operand::Lit(v) => Ok(Val::Json(v.clone())),
            Operand::Field(f) => self.chain(dot.clone(), at_root, f, Vec::new()),
            Operand::Var(name, f) => {
                let (v, root) = self.var(name)?;
                self.chain(v, root, f, Vec::new())
            }
            Operand::Func(name) => self.call(name, Vec::new()),
            Operand::Sub(p, f) => {
                let v = self.pipe(p, dot, at_root).map_err(|e| match e {
                    Error::Exec { msg, .. } => msg,
                    e => e.to_string(),
                })?;
                self.chain(v, false, f, Vec::new())
            }
        }
    }

    fn var(&self, name: &str) -> Result<(Val, bool), String> {
        if name == "$" {
            return Ok((Val::Json(self.root.clone()), true));
        }
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| (v.clone(), false))
            .ok_or_else(|| format!("undefined variable: {name}"))
    }

    /// `.A.B` on `recv`; the last name gets `args`. Names the top-level value lacks
    /// may be its methods.
    fn chain(
        &mut self,
        mut recv: Val,
        mut at_root: bool,
        fields: &[String],
        args: Vec<Val>,
    ) -> Result<Val, String> {
        let n = fields.len();
        for (i, f) in fields.iter().enumerate() {
            let last = i + 1 == n;
            let has_key = matches!(&recv, Val::Json(Value::Object(m)) if m.contains_key(f));
            if at_root && !has_key {
                let margs: Vec<Value> = if last {
                    args.iter().cloned().map(Val::into_json).collect()
                } else {
                    Vec::new()
                };
                if let Some(r) = (self.methods)(f, &margs) {
                    recv = Val::Json(r?);
                    at_root = false;
                    continue;
                }
            }
            if last && !args.is_empty() {
                return Err(format!(
                    "{f} has arguments but cannot be invoked as function"
                ));
            }
            recv = field(&recv, f)?;
            at_root = false;
        }
        if n == 0 && !args.is_empty() {
            return Err("can't give argument to non-function".into());
        }
        Ok(recv)
    }

    fn call(&mut self, name: &str, args: Vec<Val>) -> Result<Val, String> {
        if self.header && HEADER_IDENTITY.contains(&name) {
            return Ok(args.into_iter().next().unwrap_or(Val::str("")));
        }
        call(name, args)
    }
}

fn field(recv: &Val, f: &str) -> Result<Val, String> {
    match recv {
        Val::Json(Value::Object(m)) => m
            .get(f)
            .map(|v| Val::child(f, v))
            .ok_or_else(|| format!("can't evaluate field {f} in type struct")),
        Val::Map(m) => Ok(m.get(f).map_or(Val::Missing, |v| Val::child(f, v))),
        Val::Missing | Val::Json(Value::Null) => {
            Err(format!("nil pointer evaluating interface {{}}.{f}"))
        }
        v => Err(format!(
            "can't evaluate field {f} in type {}",
            v.type_name()
        )),
    }
}

fn want(name: &str, args: &[Val], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ))
    }
}

fn call(name: &str, args: Vec<Val>) -> Result<Val, String> {
    let s = |i: usize| show(&args[i]);
    Ok(match name {
        "not" => {
            want(name, &args, 1)?;
            Val::Json(Value::Bool(!truth(&args[0])))
        }
        "len" => {
            want(name, &args, 1)?;
            let n = match &args[0] {
                Val::Json(Value::String(s)) => s.len(),
                Val::Json(Value::Array(a)) => a.len(),
                Val::Json(Value::Object(m)) | Val::Map(m) => m.len(),
                Val::Json(Value::Null) => 0,
                v => return Err(format!("len of type {}", v.type_name())),
            };
            Val::Json(Value::from(n))
        }
        "index" => {
            if args.is_empty() {
                return Err("wrong number of args for index: want at least 1 got 0".into());
            }
            let mut v = args[0].clone();
            for k in &args[1..] {
                v = index(&v, k)?;
            }
            v
        }
        "print" => {
            let mut out = String::new();
            for (i, a) in args.iter().enumerate() {
                if i > 0 && !a.is_string() && !args[i - 1].is_string() {
                    out.push(' ');
                }
                out.push_str(&show(a));
            }
            Val::str(out)
        }
        "println" => Val::str(args.iter().map(show).collect::<Vec<_>>().join(" ") + "\n"),
        "printf" => {
            let Some((f, rest)) = args.split_first() else {
                return Err("wrong number of args for printf: want at least 1 got 0".into());
            };
            Val::str(sprintf(&show(f), rest))
        }
        "eq" => {
            if args.len() < 2 {
                return Err("missing argument for comparison".into());
            }
            let mut any = false;
            for b in &args[1..] {
                any |= compare(&args[0], b)? == Some(std::cmp::Ordering::Equal);
            }
            Val::Json(Value::Bool(any))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            want(name, &args, 2)?;
            use std::cmp::Ordering::*;
            let ord = compare(&args[0], &args[1])?;
            if name != "ne" && ord.is_none() {
                return Err(format!(
                    "incompatible types for comparison: {} and {}",
                    args[0].type_name(),
                    args[1].type_name()
                ));
            }
            Val::Json(Value::Bool(match name {
                "ne" => ord != Some(Equal),
                "lt" => ord == Some(Less),
                "le" => ord != Some(Greater),
                "gt" => ord == Some(Greater),
                _ => ord != Some(Less),
            }))
        }
        "json" => {
            want(name, &args, 1)?;
            Val::str(serde_json::to_string(&args[0].clone().into_json()).unwrap_or_default())
        }
        "split" => {
            want(name, &args, 2)?;
            let (text, sep) = (s(0), s(1));
            let parts: Vec<Value> = if sep.is_empty() {
                text.chars().map(|c| Value::from(c.to_string())).collect()
            } else {
                text.split(sep.as_str()).map(Value::from).collect()
            };
            Val::Json(Value::Array(parts))
        }
        "join" => {
            want(name, &args, 2)?;
            match &args[0] {
                Val::Json(Value::Array(a)) => Val::str(
                    a.iter()
                        .map(|e| show_json(e, false))
                        .collect::<Vec<_>>()
                        .join(&s(1)),
                ),
                Val::Json(Value::Null) => Val::str(""),
                v => {
                    return Err(format!(
                        "wrong type for value in join; expected []string; got {}",
                        v.type_name()
                    ))
                }
            }
        }
        "title" => {
            want(name, &args, 1)?;
            Val::str(title(&s(0)))
        }
        "lower" => {
            want(name, &args, 1)?;
            Val::str(s(0).to_lowercase())
        }
        "upper" => {
            want(name, &args, 1)?;
            Val::str(s(0).to_uppercase())
        }
        "pad" => {
            want(name, &args, 3)?;
            let text = s(0);
            let (pre, post) = (args[1].as_int(name)?, args[2].as_int(name)?);
            if text.is_empty() {
                Val::str(text)
            } else {
                let sp = |n: i64| " ".repeat(n.max(0) as usize);
                Val::str(format!("{}{text}{}", sp(pre), sp(post)))
            }
        }
        "truncate" => {
            want(name, &args, 2)?;
            let n = args[1].as_int(name)?.max(0) as usize;
            Val::str(s(0).chars().take(n).collect::<String>())
        }
        _ => return Err(format!("function {name:?} not defined")),
    })
}

fn index(v: &Val, k: &Val) -> Result<Val, String> {
    match (v, k) {
        (Val::Json(Value::Array(a)), Val::Json(Value::Number(n))) => {
            let i = n.as_i64().unwrap_or(-1);
            usize::try_from(i)
                .ok()
                .and_then(|i| a.get(i))
                .map(|e| Val::Json(e.clone()))
                .ok_or_else(|| format!("error calling index: index out of range: {n}"))
        }
        (Val::Json(Value::Object(m)) | Val::Map(m), Val::Json(Value::String(key))) => {
            // Go gives the element type's zero value for a missing key; "" for the
            // string maps (labels) this is used on.
            Ok(m.get(key).map_or(Val::str(""), |e| Val::child(key, e)))
        }
        (Val::Json(Value::Null), _) => Ok(Val::str("")),
        (v, k) => Err(format!(
            "error calling index: cannot index {} with {}",
            v.type_name(),
            k.type_name()
        )),
    }
}

/// Ordering of two basic values; `None` when they are of kinds that do not compare.
fn compare(a: &Val, b: &Val) -> Result<Option<std::cmp::Ordering>, String> {
    Ok(match (a, b) {
        (Val::Json(Value::Number(x)), Val::Json(Value::Number(y))) => {
            match (x.as_i64(), y.as_i64()) {
                (Some(x), Some(y)) => Some(x.cmp(&y)),
                _ => x
                    .as_f64()
                    .zip(y.as_f64())
                    .and_then(|(x, y)| x.partial_cmp(&y)),
            }
        }
        (Val::Json(Value::String(x)), Val::Json(Value::String(y))) => Some(x.cmp(y)),
        (Val::Json(Value::Bool(x)), Val::Json(Value::Bool(y))) => Some(x.cmp(y)),
        (Val::Json(Value::Null), Val::Json(Value::Null)) => Some(std::cmp::Ordering::Equal),
        (Val::Missing, _) | (_, Val::Missing) => None,
        (x, y) => {
            if x.type_name() == y.type_name()
                || matches!(x, Val::Json(Value::Null))
                || matches!(y, Val::Json(Value::Null))
            {
                (x == y).then_some(std::cmp::Ordering::Equal)
            } else {
                return Err(format!(
                    "incompatible types for comparison: {} and {}",
                    x.type_name(),
                    y.type_name()
                ));
            }
        }
    })
}

/// Go's `strings.Title`: the first letter of each word in upper case.
fn title(s: &str) -> String {
    let mut prev_sep = true;
    s.chars()
        .map(|c| {
            let out = if prev_sep {
                c.to_uppercase().next().unwrap_or(c)
            } else {
                c
            };
            prev_sep = !(c.is_alphanumeric() || c == '_');
            out
        })
        .collect()
}

/// Go's `fmt.Sprintf` for the verbs templates use.
fn sprintf(f: &str, args: &[Val]) -> String {
    let mut out = String::new();
    let mut chars = f.chars().peekable();
    let mut next = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut minus, mut plus, mut zero) = (false, false, false);
        while let Some(&fl) = chars.peek() {
            match fl {
                '-' => minus = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let num = |chars: &mut std::iter::Peekable<std::str::Chars>| {
            let mut n: Option<usize> = None;
            while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                n = Some(n.unwrap_or(0) * 10 + d as usize);
                chars.next();
            }
            n
        };
        let width = num(&mut chars);
        let prec = if chars.peek() == Some(&'.') {
            chars.next();
            Some(num(&mut chars).unwrap_or(0))
        } else {
            None
        };
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next += 1;
        let number = match arg {
            Val::Json(Value::Number(n)) => Some(n),
            _ => None,
        };
        let bad = || format!("%!{verb}({}={})", arg.type_name(), show(arg));
        let mut text = match verb {
            'v' | 's' => {
                let s = show(arg);
                match prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                }
            }
            'q' => go_quote(&show(arg)),
            't' => match arg {
                Val::Json(Value::Bool(b)) => b.to_string(),
                _ => bad(),
            },
            'd' => match number.and_then(|n| n.as_i64()) {
                Some(i) if plus && i >= 0 => format!("+{i}"),
                Some(i) => i.to_string(),
                None => bad(),
            },
            'x' | 'X' => {
                let s = match (number.and_then(|n| n.as_i64()), arg) {
                    (Some(i), _) => format!("{i:x}"),
                    (None, Val::Json(Value::String(s))) => hex::encode(s),
                    _ => bad(),
                };
                if verb == 'X' {
                    s.to_uppercase()
                } else {
                    s
                }
            }
            'f' | 'F' | 'e' | 'g' => match number.and_then(|n| n.as_f64()) {
                Some(x) => {
                    let s = match verb {
                        'e' => format!("{x:.*e}", prec.unwrap_or(6)),
                        'g' => match prec {
                            Some(p) => format!("{x:.p$}"),
                            None => x.to_string(),
                        },
                        _ => format!("{x:.*}", prec.unwrap_or(6)),
                    };
                    if plus && x >= 0.0 {
                        format!("+{s}")
                    } else {
                        s
                    }
                }
                None => bad(),
            },
            'c' => match number
                .and_then(|n| n.as_u64())
                .and_then(|n| char::from_u32(n as u32))
            {
                Some(ch) => ch.to_string(),
                None => bad(),
            },
            _ => bad(),
        };
        if let Some(w) = width {
            let len = text.chars().count();
            if len < w {
                let fill = w - len;
                if minus {
                    text.push_str(&" ".repeat(fill));
                } else if zero && number.is_some() {
                    let (sign, digits) = match text.strip_prefix(['-', '+']) {
                        Some(d) => (&text[..1], d),
                        None => ("", text.as_str()),
                    };
                    text = format!("{sign}{}{digits}", "0".repeat(fill));
                } else {
                    text = " ".repeat(fill) + &text;
                }
            }
        }
        out.push_str(&text);
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={}", a.type_name(), show(a)))
            .collect();
        let _ = write!(out, "%!(EXTRA {})", extra.join(", "));
    }
    out
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
                    serde_json::to_string(&Value::Object(sorted(r.fields.clone())))
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Value {
        json!({
            "Names": "web",
            "Args": ["sleep", "300"],
            "N": 3,
            "F": 1.5,
            "B": true,
            "Empty": "",
            "Null": null,
            "State": {"Status": "running", "Running": true, "Pid": 42},
            "Config": {"Labels": {"tier": "web", "a": "b"}, "Cmd": ["sh", "-c", "x"], "Env": []},
            "Mounts": [{"Source": "/a", "Destination": "/x"}, {"Source": "/b", "Destination": "/y"}],
        })
    }

    fn run(t: &str) -> String {
        Template::parse(t)
            .unwrap_or_else(|e| panic!("{t}: {e}"))
            .execute(&ctx(), &no_methods)
            .unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    fn parse_error(t: &str) -> String {
        Template::parse(t).unwrap_err().to_string()
    }

    fn exec_error(t: &str) -> String {
        Template::parse(t)
            .unwrap()
            .execute(&ctx(), &no_methods)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn fields_and_values_print_as_go_does() {
        assert_eq!(run("{{.Names}}"), "web");
        assert_eq!(run("x {{ .State.Status }} y"), "x running y");
        assert_eq!(run("{{.Args}}"), "[sleep 300]");
        assert_eq!(run("{{.Config.Labels}}"), "map[a:b tier:web]");
        assert_eq!(run("{{.State}}"), "{running true 42}");
        assert_eq!(run("{{.N}} {{.F}} {{.B}} {{.Null}}"), "3 1.5 true <nil>");
        assert_eq!(run("{{.Config.Labels.nope}}"), "<no value>");
        assert_eq!(run("{{.Config.Labels.tier}}"), "web");
        assert_eq!(run("{{.}}").chars().next(), Some('{'));
        assert_eq!(
            run("{{\"a\\tb\"}}{{`r\\n`}}{{'x'}}{{-1}}{{0x10}}"),
            "a\tbr\\n120-116"
        );
        assert_eq!(run("{{(.State).Status}}"), "running");
    }

    #[test]
    fn missing_struct_fields_are_errors() {
        let e = exec_error("{{.Nmes}}");
        assert_eq!(
            e,
            "template: :1:2: executing \"\" at <.Nmes>: can't evaluate field Nmes in type struct"
        );
        assert!(exec_error("{{.Names.x}}").contains("can't evaluate field x in type string"));
        assert!(exec_error("{{.Names \"x\"}}").contains("cannot be invoked as function"));
    }

    #[test]
    fn control_structures() {
        assert_eq!(
            run("{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}"),
            "/a:/x /b:/y "
        );
        assert_eq!(
            run("{{range $i, $m := .Mounts}}{{$i}}={{$m.Source}},{{end}}"),
            "0=/a,1=/b,"
        );
        assert_eq!(
            run("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}"),
            "a=b;tier=web;"
        );
        assert_eq!(run("{{range .Config.Env}}x{{else}}none{{end}}"), "none");
        assert_eq!(
            run("{{range .Args}}{{if eq . \"300\"}}{{break}}{{end}}{{.}}{{end}}"),
            "sleep"
        );
        assert_eq!(
            run("{{range .Args}}{{if eq . \"sleep\"}}{{continue}}{{end}}{{.}}{{end}}"),
            "300"
        );
        assert_eq!(
            run("{{if eq .State.Status \"exited\"}}e{{else if .B}}b{{else}}n{{end}}"),
            "b"
        );
        assert_eq!(run("{{if and .B .Empty}}y{{else}}n{{end}}"), "n");
        assert_eq!(run("{{or .Empty .Names}}"), "web");
        assert_eq!(run("{{if not .Empty}}y{{end}}"), "y");
        assert_eq!(
            run("{{with .State}}{{.Pid}}{{end}}{{with .Empty}}x{{else}}-{{end}}"),
            "42-"
        );
        assert_eq!(
            run("{{$n := .Names}}{{range .Args}}{{$n}}{{end}}"),
            "webweb"
        );
        assert_eq!(run("{{$x := 1}}{{if .B}}{{$x = 2}}{{end}}{{$x}}"), "2");
        assert_eq!(run("{{range .Mounts}}{{$.Names}}{{end}}"), "webweb");
        assert_eq!(run("a {{- \" b \" -}} c"), "a b c");
        assert_eq!(run("a {{/* note */}} b {{- /* x */ -}} c"), "a  bc");
        assert_eq!(
            run("{{lt .N 4}} {{ge .F 2.0}} {{ne .Names \"x\"}} {{eq .N 1 2 3}}"),
            "true false true true"
        );
    }

    #[test]
    fn functions() {
        assert_eq!(run("{{json .}}"), serde_json::to_string(&ctx()).unwrap());
        assert_eq!(
            run("{{json .State}}"),
            r#"{"Status":"running","Running":true,"Pid":42}"#
        );
        assert_eq!(run("{{json .Config.Labels}}"), r#"{"a":"b","tier":"web"}"#);
        assert_eq!(run("{{json .Names}}"), r#""web""#);
        assert_eq!(
            run("{{index .Config.Labels \"tier\"}}|{{index .Config.Labels \"x\"}}"),
            "web|"
        );
        assert_eq!(
            run("{{index .Args 1}} {{index .Mounts 1 | json}}"),
            r#"300 {"Source":"/b","Destination":"/y"}"#
        );
        assert_eq!(run("{{join .Args \",\"}}"), "sleep,300");
        assert_eq!(
            run("{{split \"a:b\" \":\"}} {{len (split \"a:b\" \":\")}}"),
            "[a b] 2"
        );
        assert_eq!(
            run("{{upper .Names}} {{lower \"AB\"}} {{title \"hello big-world\"}}"),
            "WEB ab Hello Big-World"
        );
        assert_eq!(run("{{.Names | upper}}"), "WEB");
        assert_eq!(
            run(
                "{{truncate .Names 2}}|{{truncate .Names 9}}|{{pad .Names 1 2}}|{{pad .Empty 1 1}}"
            ),
            "we|web| web  |"
        );
        assert_eq!(run("{{println .Names}}"), "web\n");
        assert_eq!(run("{{print .N .N \"a\" .N}}"), "3 3a3");
        assert_eq!(
            run("{{len .Args}} {{len .Names}} {{len .Config.Labels}}"),
            "2 3 2"
        );
        assert_eq!(
            run("{{printf \"%-5s|%5s|%3d|%03d|%.2f|%q|%v|%t|%x|%%\" .Names .Names .N .N .F .Names .Args .B 255}}"),
            "web  |  web|  3|003|1.50|\"web\"|[sleep 300]|true|ff|%"
        );
        assert_eq!(run("{{printf \"%d %s\" .N}}"), "3 %!s(MISSING)");
        assert_eq!(run("{{printf \"%s\" .N .B}}"), "3%!(EXTRA bool=true)");
    }

    #[test]
    fn methods_of_the_top_level_value() {
        let t = Template::parse(
            "{{.Label \"tier\"}}/{{.Names}}/{{range .Args}}{{$.Label \"x\"}}{{end}}",
        )
        .unwrap();
        let m = |name: &str, args: &[Value]| -> Option<Result<Value, String>> {
            (name == "Label").then(|| Ok(Value::from(format!("L({})", args[0].as_str().unwrap()))))
        };
        assert_eq!(t.execute(&ctx(), &m).unwrap(), "L(tier)/web/L(x)L(x)");
    }

    #[test]
    fn bad_templates() {
        assert_eq!(
            parse_error("{{.Names"),
            "template parsing error: template: :1: unclosed action"
        );
        assert_eq!(
            parse_error("{{nope .Names}}"),
            "template parsing error: template: :1: function \"nope\" not defined"
        );
        assert_eq!(
            parse_error("x\n{{end}}"),
            "template parsing error: template: :2: unexpected {{end}}"
        );
        assert!(parse_error("{{if .B}}x").contains("unexpected EOF"));
        assert!(parse_error("{{if}}x{{end}}").contains("missing value for if"));
        assert!(parse_error("{{break}}").contains("outside {{range}}"));
        assert!(parse_error("{{\"abc}}").contains("unterminated quoted string"));
        assert!(parse_error("{{.A | }}").contains("missing command"));
        assert!(parse_error("{{(.A}}").contains("unclosed left paren"));
        assert!(parse_error("{{.A)}}").contains("unexpected"));
        assert!(parse_error("{{#}}").contains("unexpected '#'"));
        assert!(parse_error("{{template \"x\"}}").contains("not supported"));
        assert!(parse_error("{{/* x }}").contains("unclosed comment"));
        assert!(exec_error("{{index .Args 5}}").contains("index out of range: 5"));
        assert!(exec_error("{{$y}}").contains("undefined variable: $y"));
        assert!(exec_error("{{lt .Names 3}}").contains("incompatible types"));
    }

    fn rows() -> Vec<Row> {
        let row = |id: &str, name: &str, tier: &str| Row {
            fields: json!({"ID": id, "Names": name, "Status": "Up 1 second"})
                .as_object()
                .unwrap()
                .clone(),
            labels: [("com.x.tier".to_string(), tier.to_string())].into(),
        };
        vec![row("abc", "web", "front"), row("defdef", "db", "back")]
    }

    const HEADERS: &[(&str, &str)] = &[
        ("ID", "CONTAINER ID"),
        ("Names", "NAMES"),
        ("Status", "STATUS"),
    ];

    #[test]
    fn listings() {
        let render = |f: &str| {
            Listing::parse(Some(f))
                .unwrap()
                .render(HEADERS, &rows())
                .unwrap()
        };
        assert!(Listing::parse(None).unwrap().is_default());
        assert!(Listing::parse(Some("table")).unwrap().is_default());
        assert_eq!(render("{{.Names}}\\t{{.ID}}"), "web\tabc\ndb\tdefdef\n");
        assert_eq!(render("{{.Label \"com.x.tier\"}}"), "front\nback\n");
        assert_eq!(
            render("json"),
            "{\"ID\":\"abc\",\"Names\":\"web\",\"Status\":\"Up 1 second\"}\n{\"ID\":\"defdef\",\"Names\":\"db\",\"Status\":\"Up 1 second\"}\n"
        );
        assert_eq!(
            render("table {{.ID}}\\t{{upper .Names}}\\t{{.Label \"com.x.tier\"}}"),
            "CONTAINER ID   NAMES   TIER\nabc            WEB     front\ndefdef         DB      back\n"
        );
        assert_eq!(render("table {{.Names}}"), "NAMES\nweb\ndb\n");
        let e = Listing::parse(Some("{{.Names")).unwrap_err().to_string();
        assert_eq!(e, "template parsing error: template: :1: unclosed action");
    }

    #[test]
    fn times_as_go_prints_them() {
        assert_eq!(
            go_time("2026-11-23T12:00:00.123+01:00"),
            "2026-11-23 11:00:00 +0000 UTC"
        );
        assert_eq!(go_time("bad"), "");
    }

    #[test]
    fn objects() {
        let v = ctx();
        assert_eq!(
            Object::parse("json").unwrap().render(&v).unwrap(),
            serde_json::to_string(&v).unwrap() + "\n"
        );
        assert_eq!(
            Object::parse("{{.State.Pid}}").unwrap().render(&v).unwrap(),
            "42\n"
        );
        assert_eq!(
            Object::parse("{{.Names}}\\t").unwrap().render(&v).unwrap(),
            "web\\t\n"
        );
    }
}
