//! `box ps`: containers from their records, with Docker's columns. "Running" is
//! believed only while the shim holds its lock (`Containers::current_state`).

use anyhow::Result;

use boxc::container::{Containers, State, Status};
use boxc::output::format::{go_quote, go_time, Listing, Row};
use boxc::output::{ago, human_duration, table};
use boxc::runtime::spec::{ContainerSpec, Mount};
use serde_json::json;

use super::filters::Filters;
use super::{print, Ctx};

#[derive(clap::Args)]
pub struct Args {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    quiet: bool,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    latest: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", value_name = "N")]
    last: Option<usize>,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Display total file sizes: the writable layer, and the image under it
    #[arg(short, long)]
    size: bool,
    /// Filter output: name=REGEX, id=REGEX, status=, exited=N, ancestor=IMAGE, label=KEY[=VALUE], before=, since=
    #[arg(short, long, value_name = "FILTER")]
    filter: Vec<String>,
    /// Format output: table, table TEMPLATE, json, or a Go template ('{{.Names}}\t{{.Status}}')
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
}

/// One container as listed: its record and its true state.
pub struct Listed {
    pub spec: ContainerSpec,
    pub state: State,
}

/// Every container with a readable record, newest first.
pub fn list(containers: &Containers) -> Result<Vec<Listed>> {
    let mut out: Vec<Listed> = containers
        .ids()?
        .into_iter()
        .filter_map(|id| {
            let spec = containers.spec(&id).ok()?;
            let state = containers.current_state(&id).ok()?;
            Some(Listed { spec, state })
        })
        .collect();
    out.sort_by(|a, b| b.state.created_at.cmp(&a.state.created_at));
    Ok(out)
}

pub fn run(ctx: &Ctx, a: Args) -> Result<i32> {
    let format = Listing::parse(a.format.as_deref())?;
    let containers = Containers::open(&ctx.dirs.data)?;
    let default = ctx.config.default_registry();
    let filters = Filters::parse(&a.filter, &containers, &|image| {
        ctx.store().ok()?.resolve(image, default).ok().map(|i| i.id)
    })?;
    let mut listed: Vec<Listed> = list(&containers)?
        .into_iter()
        .filter(|c| {
            a.all || a.latest || a.last.is_some() || filters.list_stopped() || c.state.is_live()
        })
        .filter(|c| filters.matches(c))
        .collect();
    if a.latest {
        listed.truncate(1);
    }
    if let Some(n) = a.last {
        listed.truncate(n);
    }
    let id = |c: &Listed| {
        if a.no_trunc {
            c.spec.id.clone()
        } else {
            c.spec.id[..12].to_string()
        }
    };
    // As Docker's: a format of one's own wins over -q.
    if a.quiet && format.is_default() {
        print(&listed.iter().map(|c| id(c) + "\n").collect::<String>());
        return Ok(0);
    }
    // As Docker's: sizes are measured when asked for, or when a template shows them.
    let sizes: Vec<String> = if a.size || a.format.as_deref().is_some_and(|f| f.contains(".Size")) {
        let store = ctx.store()?;
        listed.iter().map(|c| size_text(&store, &c.spec)).collect()
    } else {
        vec![boxc::output::human_size(0); listed.len()]
    };
    if !format.is_default() {
        let rows: Vec<Row> = listed
            .iter()
            .zip(&sizes)
            .map(|(c, size)| fields(c, a.no_trunc, size))
            .collect();
        print(&format.render(HEADERS, &rows)?);
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = listed
        .iter()
        .zip(&sizes)
        .map(|(c, size)| {
            let cmd = command_line(&c.spec);
            let mut row = vec![
                id(c),
                image_column(&c.spec),
                go_quote(&if a.no_trunc { cmd } else { ellipsis(&cmd, 20) }),
                ago(Some(&c.state.created_at)),
                status_text(&c.state),
                ports_column(c),
                c.spec.name.clone(),
            ];
            if a.size {
                row.push(size.clone());
            }
            row
        })
        .collect();
    let mut headers = vec![
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ];
    if a.size {
        headers.push("SIZE");
    }
    print(&table(&headers, &rows));
    Ok(0)
}

/// Published ports, Docker's way: `0.0.0.0:8080->80/tcp, ...`; only while the
/// container runs, when its helper forwards them (Docker's too).
fn ports_column(c: &Listed) -> String {
    if c.state.status != Status::Running {
        return String::new();
    }
    c.spec
        .ports
        .iter()
        .map(|p| p.display())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `--format`'s fields, by Docker's names, and their `table` headers.
const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
    ("Networks", "NETWORKS"),
];

/// The bytes of a container's writable layer, and of its whole root filesystem (the
/// image's layers under it): what `ps -s` and `inspect -s` show.
pub fn sizes(store: &boxc::image::store::Store, spec: &ContainerSpec) -> (u64, u64) {
    let rw = super::rm::dir_size(&spec.dir.join("upper"));
    let image: u64 = spec
        .layers
        .iter()
        .filter_map(|l| store.layer_info(l).ok())
        .map(|i| i.size)
        .sum();
    (rw, rw + image)
}

/// Docker's SIZE cell: "12B (virtual 4.26MB)".
fn size_text(store: &boxc::image::store::Store, spec: &ContainerSpec) -> String {
    let (rw, root) = sizes(store, spec);
    let rw = boxc::output::human_size(rw);
    if root > 0 {
        format!("{rw} (virtual {})", boxc::output::human_size(root))
    } else {
        rw
    }
}

/// One container for `--format`, as Docker's container context shows it: the table's
/// columns, truncated likewise unless `--no-trunc`.
fn fields(c: &Listed, no_trunc: bool, size: &str) -> Row {
    let cut = |s: String, n: usize| if no_trunc { s } else { ellipsis(&s, n) };
    let mounts: Vec<String> = c
        .spec
        .mounts
        .iter()
        .filter_map(|m| match m {
            Mount::Bind { source, .. } => Some(cut(source.display().to_string(), 15)),
            Mount::Tmpfs { .. } => None,
        })
        .collect();
    let labels: Vec<String> = c
        .spec
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let id = if no_trunc {
        &c.spec.id[..]
    } else {
        &c.spec.id[..12]
    };
    let fields = json!({
        "Command": go_quote(&cut(command_line(&c.spec), 20)),
        "CreatedAt": go_time(&c.state.created_at),
        "ID": id,
        "Image": image_column(&c.spec),
        "Labels": labels.join(","),
        "LocalVolumes": "0",
        "Mounts": mounts.join(","),
        "Names": c.spec.name,
        "Networks": if c.spec.networks.is_empty() {
            super::inspect::network_mode(&c.spec)
        } else {
            c.spec.networks.iter().map(|a| a.network.as_str()).collect::<Vec<_>>().join(",")
        },
        "Ports": ports_column(c),
        "RunningFor": ago(Some(&c.state.created_at)),
        "Size": size,
        "State": c.state.status.as_str(),
        "Status": status_text(&c.state),
    });
    Row {
        fields: fields.as_object().cloned().unwrap_or_default(),
        labels: c.spec.labels.clone(),
    }
}

/// The image as the user typed it (older records: the full reference).
pub fn image_column(spec: &ContainerSpec) -> String {
    if spec.image_name.is_empty() {
        spec.image.clone()
    } else {
        spec.image_name.clone()
    }
}

/// What the container runs, as Docker shows it: entrypoint and command.
pub fn command_line(spec: &ContainerSpec) -> String {
    spec.process.args.join(" ")
}

/// Docker's `Ellipsis`: at most `max` characters, the last one "…" if cut.
fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// The STATUS column: "Up 3 minutes", "Exited (0) 2 seconds ago", "Created",
/// "Restarting (1) 1 second ago"; "Exited (unknown)" when the shim died unheard.
pub fn status_text(st: &State) -> String {
    let code = st
        .exit_code
        .map_or_else(|| "unknown".to_string(), |c| c.to_string());
    let since = |t: &Option<String>| {
        t.as_deref()
            .filter(|_| st.exit_code.is_some())
            .map(|t| format!(" {}", ago(Some(t))))
            .unwrap_or_default()
    };
    match st.status {
        Status::Created => "Created".into(),
        Status::Running => {
            let up = st
                .started_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds())
                .unwrap_or(0);
            format!("Up {}", human_duration(up))
        }
        Status::Restarting => format!("Restarting ({code}){}", since(&st.finished_at)),
        Status::Exited => format!("Exited ({code}){}", since(&st.finished_at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(status: Status, code: Option<i32>) -> State {
        let mut s = State::created();
        s.status = status;
        s.exit_code = code;
        s.started_at = Some(boxc::container::now());
        s.finished_at = Some(boxc::container::now());
        s
    }

    #[test]
    fn status_column() {
        assert_eq!(status_text(&state(Status::Created, None)), "Created");
        assert_eq!(
            status_text(&state(Status::Running, None)),
            "Up Less than a second"
        );
        assert_eq!(
            status_text(&state(Status::Exited, Some(3))),
            "Exited (3) Less than a second ago"
        );
        assert_eq!(
            status_text(&state(Status::Exited, None)),
            "Exited (unknown)"
        );
    }

    #[test]
    fn commands_are_quoted_as_go_does() {
        assert_eq!(go_quote("sh -c \"x\""), "\"sh -c \\\"x\\\"\"");
        assert_eq!(go_quote("a\\b\n"), "\"a\\\\b\\n\"");
    }

    #[test]
    fn commands_are_cut_as_docker_does() {
        assert_eq!(ellipsis("sleep 1000", 20), "sleep 1000");
        assert_eq!(
            ellipsis("sh -c 'echo hello world'", 20),
            "sh -c 'echo hello w…"
        );
    }
}
