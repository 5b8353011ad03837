//! Parsing: tokens into a tree of text, pipelines and control structures, refusing
//! what Go's parser refuses, with its messages.

use serde_json::Value;

use super::funcs::FUNCS;
use super::lex::{Item, Tok, Token};
use super::{parse_err, Error};

/// The tree of a whole template.
pub(super) fn parse(items: Vec<Item>) -> Result<Vec<Node>, Error> {
    let mut p = Parser {
        items,
        i: 0,
        ranges: 0,
    };
    let (nodes, stop) = p.list()?;
    match stop {
        Stop::Eof => Ok(nodes),
        Stop::End(line) => Err(parse_err(line, "unexpected {{end}}")),
        Stop::Else(_, line) => Err(parse_err(line, "unexpected {{else}}")),
    }
}

#[derive(Debug, Clone)]
pub(super) enum Node {
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
pub(super) struct Pipe {
    pub(super) decl: Vec<String>,
    /// `$x = ...` assigns an existing variable; `$x := ...` declares one.
    pub(super) assign: bool,
    pub(super) cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
pub(super) struct Cmd {
    pub(super) args: Vec<Operand>,
    pub(super) line: usize,
    pub(super) col: usize,
    pub(super) src: String,
}

#[derive(Debug, Clone)]
pub(super) enum Operand {
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
