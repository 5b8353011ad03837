//! The functions a template may call: Go's builtins and Docker's additions.

use std::fmt::Write as _;

use serde_json::Value;

use super::exec::{go_quote, show, show_json, truth, Nil, Val};

/// Functions a template may call: Go's builtins and Docker's additions.
pub(super) const FUNCS: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "html", "js",
    "urlquery", "eq", "ne", "lt", "le", "gt", "ge", "json", "split", "join", "title", "lower",
    "upper", "pad", "truncate",
];

/// Docker's functions that leave a table's header as it is (`{{upper .Names}}` is
/// still headed "NAMES"); `pad` is not among them, so columns stay aligned.
pub(super) const HEADER_IDENTITY: &[&str] = &[
    "json", "split", "join", "title", "lower", "upper", "truncate",
];

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

pub(super) fn call(name: &str, args: Vec<Val>) -> Result<Val, String> {
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
                Val::Json(Value::Null) | Val::Nil(_) => 0,
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
        "print" => Val::str(sprint(&args)),
        "println" => Val::str(args.iter().map(show).collect::<Vec<_>>().join(" ") + "\n"),
        "slice" => slice(&args).map_err(|e| format!("error calling slice: {e}"))?,
        "html" => Val::str(html_escape(&sprint(&args))),
        "js" => Val::str(js_escape(&sprint(&args))),
        "urlquery" => Val::str(query_escape(&sprint(&args))),
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
                        .map(|e| show_json(e, None))
                        .collect::<Vec<_>>()
                        .join(&s(1)),
                ),
                Val::Json(Value::Null) | Val::Nil(_) => Val::str(""),
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

/// Go's `fmt.Sprint`: operands side by side, a space between two that are not strings.
fn sprint(args: &[Val]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !a.is_string() && !args[i - 1].is_string() {
            out.push(' ');
        }
        out.push_str(&show(a));
    }
    out
}

/// Go's `slice x 1 2`: `x[1:2]`, on strings (by bytes, as Go) and lists; a third
/// index caps a list's capacity, which changes nothing here.
fn slice(args: &[Val]) -> Result<Val, String> {
    let Some((item, idx)) = args.split_first() else {
        return Err("wrong number of args for slice: want at least 1 got 0".into());
    };
    if idx.len() > 3 {
        return Err(format!("too many slice indexes: {}", idx.len()));
    }
    let len = match item {
        Val::Json(Value::String(s)) => s.len(),
        Val::Json(Value::Array(a)) => a.len(),
        Val::Json(Value::Null) | Val::Nil(Nil::Slice) => 0,
        v => return Err(format!("can't slice item of type {}", v.type_name())),
    };
    if item.is_string() && idx.len() == 3 {
        return Err("cannot 3-index slice a string".into());
    }
    let mut bounds = Vec::with_capacity(idx.len());
    for i in idx {
        let n = i.as_int("slice")?;
        let n = usize::try_from(n).map_err(|_| format!("index out of range: {n}"))?;
        if n > len {
            return Err(format!("index out of range: {n}"));
        }
        bounds.push(n);
    }
    let from = bounds.first().copied().unwrap_or(0);
    let to = bounds.get(1).copied().unwrap_or(len);
    if from > to || bounds.get(2).is_some_and(|cap| *cap < to) {
        return Err(format!("invalid slice index: {from} > {to}"));
    }
    Ok(match item {
        Val::Json(Value::String(s)) => {
            let bytes = &s.as_bytes()[from..to];
            Val::str(String::from_utf8_lossy(bytes).into_owned())
        }
        Val::Json(Value::Array(a)) => Val::Json(Value::Array(a[from..to].to_vec())),
        v => v.clone(),
    })
}

/// Go's `template.HTMLEscapeString`.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c if !c.is_ascii() && is_go_unprintable(c) => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Near enough to Go's `!unicode.IsPrint` for what templates escape: control and
/// format characters, and separators other than the plain space.
fn is_go_unprintable(c: char) -> bool {
    c.is_control()
        || c.is_whitespace()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{FEFF}')
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
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
        (Val::Json(Value::Null) | Val::Nil(Nil::Map), _) => Ok(Val::str("")),
        (v, k) => Err(format!(
            "error calling index: cannot index {} with {}",
            v.type_name(),
            k.type_name()
        )),
    }
}

/// Ordering of two basic values; `None` when they are of kinds that do not compare.
fn compare(a: &Val, b: &Val) -> Result<Option<std::cmp::Ordering>, String> {
    let nil = Val::Json(Value::Null);
    let a = if matches!(a, Val::Nil(_)) { &nil } else { a };
    let b = if matches!(b, Val::Nil(_)) { &nil } else { b };
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
