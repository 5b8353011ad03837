//! Lexing: a template splits into text and actions, an action into tokens, with Go's
//! rules for literals, trimming (`{{-`, `-}}`) and comments.

use serde_json::Number;

use super::{parse_err, Error};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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
pub(super) struct Token {
    pub(super) tok: Tok,
    /// Byte offset in its line, for error positions as Go gives them.
    pub(super) col: usize,
    /// Whether whitespace came before it: `(x).A` is a chain, `(x) .A` two arguments.
    pub(super) spaced: bool,
    pub(super) src: String,
}

pub(super) enum Item {
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
pub(super) fn split(src: &str) -> Result<Vec<Item>, Error> {
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
