//! `box ps --filter KEY=VALUE`, as Docker's: `name` and `id` are regular expressions
//! (`name=^web$`), `status`, `exited=N`, `ancestor` (an image by name or id prefix),
//! `label=KEY` and `label=KEY=VALUE`, `before` and `since` (a container). Filters
//! with the same key are alternatives, except `label`, whose filters must all
//! match (Docker's rule); different keys must all match.

use anyhow::{bail, Context, Result};
use regex::Regex;

use boxc::container::{Containers, Status};

use super::ps::Listed;

enum Filter {
    Name(Regex),
    Id(Regex),
    Status(String),
    Exited(i32),
    /// The image's id, if the name resolves in the store, and the name as given.
    Ancestor(Option<String>, String),
    Label(String, Option<String>),
    Before(String),
    Since(String),
}

pub struct Filters(Vec<(&'static str, Filter)>);

const KEYS: [&str; 8] = [
    "name", "id", "status", "exited", "ancestor", "label", "before", "since",
];

impl Filters {
    /// `image_id` resolves an image reference or id prefix in the store.
    pub fn parse(
        args: &[String],
        containers: &Containers,
        image_id: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Filters> {
        let mut out = Vec::new();
        for f in args {
            let Some((k, v)) = f.split_once('=') else {
                bail!("bad format of filter {f:?} (expected name=value)");
            };
            let Some(key) = KEYS.iter().find(|x| **x == k) else {
                bail!(
                    "invalid filter {k:?}: box ps filters on {}",
                    KEYS.join(", ")
                );
            };
            let bad = || format!("invalid filter '{f}'");
            let regex =
                || Regex::new(v).with_context(|| format!("{}: not a regular expression", bad()));
            // When a container (`before`, `since`) was created.
            let created = || -> Result<String> {
                let id = containers.resolve(v).with_context(bad)?;
                Ok(containers.state(&id).with_context(bad)?.created_at)
            };
            let filter = match *key {
                "name" => Filter::Name(regex()?),
                "id" => Filter::Id(regex()?),
                "status" => {
                    if !matches!(
                        v,
                        "created"
                            | "restarting"
                            | "running"
                            | "removing"
                            | "paused"
                            | "exited"
                            | "dead"
                    ) {
                        bail!(
                            "{}: created, restarting, running, removing, paused, exited or dead",
                            bad()
                        );
                    }
                    Filter::Status(v.to_string())
                }
                "exited" => Filter::Exited(
                    v.parse()
                        .with_context(|| format!("{}: not an exit code", bad()))?,
                ),
                "ancestor" => Filter::Ancestor(image_id(v), v.to_string()),
                "label" => match v.split_once('=') {
                    Some((k, val)) => Filter::Label(k.to_string(), Some(val.to_string())),
                    None => Filter::Label(v.to_string(), None),
                },
                "before" => Filter::Before(created()?),
                _ => Filter::Since(created()?),
            };
            out.push((*key, filter));
        }
        Ok(Filters(out))
    }

    /// Whether stopped containers are listed without `-a`: Docker's `status`,
    /// `before` and `since` filters list them.
    pub fn list_stopped(&self) -> bool {
        self.0
            .iter()
            .any(|(k, _)| matches!(*k, "status" | "before" | "since"))
    }

    pub fn matches(&self, c: &Listed) -> bool {
        KEYS.iter().all(|key| {
            let mut of_key = self.0.iter().filter(|(k, _)| k == key).map(|(_, f)| f);
            if *key == "label" {
                of_key.all(|f| f.matches(c))
            } else {
                let mut any = false;
                let mut none = true;
                for f in of_key {
                    none = false;
                    any |= f.matches(c);
                }
                none || any
            }
        })
    }
}

impl Filter {
    fn matches(&self, c: &Listed) -> bool {
        let created = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
        match self {
            // As Docker's, with and without the leading slash of its names.
            Filter::Name(r) => r.is_match(&c.spec.name) || r.is_match(&format!("/{}", c.spec.name)),
            Filter::Id(r) => r.is_match(&c.spec.id),
            Filter::Status(s) => c.state.status.as_str() == s,
            // Containers that ran and ended with that status.
            Filter::Exited(code) => {
                c.state.status == Status::Exited
                    && c.state.started_at.is_some()
                    && c.state.exit_code == Some(*code)
            }
            Filter::Ancestor(id, name) => {
                id.as_deref() == Some(c.spec.image_id.as_str())
                    || c.spec.image_name == *name
                    || c.spec.image == *name
            }
            Filter::Label(k, v) => match v {
                Some(v) => c.spec.labels.get(k) == Some(v),
                None => c.spec.labels.contains_key(k),
            },
            Filter::Before(t) => created(&c.state.created_at) < created(t),
            Filter::Since(t) => created(&c.state.created_at) > created(t),
        }
    }
}
