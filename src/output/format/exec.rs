//! Execution: running the tree on a JSON value, printing values as Go's `%v` does.
//!
//! JSON objects stand for Go structs (a missing field is an error) unless reached
//! through a key that is a map in Docker's types (`MAP_KEYS`); a `null` stands for a
//! nil pointer, or for a nil map or slice under the keys that are those in Docker's
//! types, which Go prints as `map[]` and `[]`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::funcs::{call, HEADER_IDENTITY};
use super::parse::{Cmd, Node, Operand, Pipe};
use super::{Error, Methods};

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
    "IndexConfigs",
    "Runtimes",
];

/// Keys whose values are slices in Docker's Go types: a `null` there is a nil slice,
/// which Go prints as `[]` (`{{.HostConfig.CapAdd}}`), where a nil pointer is `<nil>`.
const SLICE_KEYS: &[&str] = &[
    "Args",
    "Cmd",
    "Entrypoint",
    "Env",
    "OnBuild",
    "Shell",
    "Binds",
    "CapAdd",
    "CapDrop",
    "Dns",
    "DnsOptions",
    "DnsSearch",
    "ExtraHosts",
    "Links",
    "SecurityOpt",
    "VolumesFrom",
    "GroupAdd",
    "ExecIDs",
    "Aliases",
    "DNSNames",
    "RepoTags",
    "RepoDigests",
    "Layers",
    "SecondaryIPAddresses",
    "SecondaryIPv6Addresses",
    "Mounts",
    "Warnings",
    "SecurityOptions",
    "RemoteManagers",
    "Mirrors",
    "InsecureRegistryCIDRs",
];

/// Runs a parsed template on `dot`; `header` renders a table's header row.
pub(super) fn run(
    nodes: &[Node],
    dot: &Value,
    methods: Methods,
    header: bool,
) -> Result<String, Error> {
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
    ex.list(nodes, &top, true)?;
    Ok(ex.out)
}

/// A value while a template runs.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Val {
    /// A missing map key: Go prints `<no value>`.
    Missing,
    /// A JSON value; an object is a struct, `null` a nil pointer.
    Json(Value),
    /// A map: missing keys are no error, ranges and printing go in key order.
    Map(Map<String, Value>),
    /// A `null` where Docker's type is a map or a slice: empty, but printed as Go
    /// prints nil ones (`map[]`, `[]`) and `null` in JSON.
    Nil(Nil),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Nil {
    Map,
    Slice,
}

impl Nil {
    fn of(key: &str) -> Option<Nil> {
        if MAP_KEYS.contains(&key) {
            Some(Nil::Map)
        } else if SLICE_KEYS.contains(&key) {
            Some(Nil::Slice)
        } else {
            None
        }
    }
}

impl Val {
    /// The value of field or key `key`: its Go type is known by its name.
    pub(super) fn child(key: &str, v: &Value) -> Val {
        match v {
            Value::Object(m) if MAP_KEYS.contains(&key) => Val::Map(m.clone()),
            Value::Null => Nil::of(key).map_or(Val::Json(Value::Null), Val::Nil),
            v => Val::Json(v.clone()),
        }
    }

    pub(super) fn into_json(self) -> Value {
        match self {
            Val::Missing | Val::Nil(_) => Value::Null,
            Val::Json(v) => v,
            Val::Map(m) => Value::Object(sorted(m)),
        }
    }

    pub(super) fn str(s: impl Into<String>) -> Val {
        Val::Json(Value::String(s.into()))
    }

    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Val::Missing => "<no value>",
            Val::Map(_) | Val::Nil(Nil::Map) => "map",
            Val::Nil(Nil::Slice) => "slice",
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

    pub(super) fn is_string(&self) -> bool {
        matches!(self, Val::Json(Value::String(_)))
    }

    pub(super) fn as_int(&self, func: &str) -> Result<i64, String> {
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

pub(super) fn sorted(mut m: Map<String, Value>) -> Map<String, Value> {
    m.sort_keys();
    m
}

/// Go's truth: false, 0, nil and empty strings, lists and maps are false; structs true.
pub(super) fn truth(v: &Val) -> bool {
    match v {
        Val::Missing | Val::Nil(_) => false,
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
pub(super) fn show(v: &Val) -> String {
    match v {
        Val::Missing => "<no value>".into(),
        Val::Json(v) => show_json(v, None),
        Val::Map(m) => show_map(m),
        Val::Nil(Nil::Map) => "map[]".into(),
        Val::Nil(Nil::Slice) => "[]".into(),
    }
}

/// Go's `%v` of a JSON value reached by `key`, which tells maps from structs and nil
/// maps and slices from nil pointers.
pub(super) fn show_json(v: &Value, key: Option<&str>) -> String {
    let nil = key.and_then(Nil::of);
    match v {
        Value::Null => match nil {
            Some(Nil::Map) => "map[]".into(),
            Some(Nil::Slice) => "[]".into(),
            None => "<nil>".into(),
        },
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter()
                .map(|e| show_json(e, None))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Value::Object(m) if nil == Some(Nil::Map) => show_map(m),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, e)| show_json(e, Some(k)))
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
            .map(|(k, v)| format!("{k}:{}", show_json(v, None)))
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
                        Val::Json(Value::Null) | Val::Nil(_) => Vec::new(),
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
        Val::Nil(Nil::Map) => Ok(Val::Missing),
        Val::Missing | Val::Json(Value::Null) => {
            Err(format!("nil pointer evaluating interface {{}}.{f}"))
        }
        v => Err(format!(
            "can't evaluate field {f} in type {}",
            v.type_name()
        )),
    }
}
