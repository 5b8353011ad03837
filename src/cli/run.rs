//! `box run [OPTIONS] IMAGE [COMMAND [ARG...]]`: resolve the image (pulling it when
//! missing), turn flags and image config into a container spec, start the container's
//! shim, and attach to it until the container ends.

use std::io::BufRead;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};

use boxc::container::{Containers, State};

use boxc::image::ImageRef;
use boxc::runtime::caps;
use boxc::runtime::spec::{
    self, ContainerSpec, ImageRunConfig, Mount, Network, ProcessFlags, Seccomp, Security,
};
use boxc::runtime::storage;

use super::{attach, shim, Ctx};

#[derive(clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Keep STDIN open and pass it to the container
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Run in the background and print the container id
    #[arg(short, long)]
    detach: bool,
    /// Override the key sequence for detaching a container (default ctrl-p,ctrl-q)
    #[arg(long, value_name = "KEYS")]
    detach_keys: Option<String>,
    #[command(flatten)]
    sig_proxy: attach::SigProxy,
    /// Remove the container when it exits
    #[arg(long)]
    rm: bool,
    /// Assign a name to the container
    #[arg(long)]
    name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to pass the host's value)
    #[arg(short, long = "env", value_name = "KEY[=VALUE]")]
    env: Vec<String>,
    /// Read environment variables from a file
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    entrypoint: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    hostname: Option<String>,
    /// Bind mount a host path: HOST:CONTAINER[:ro|rw]
    #[arg(short, long = "volume", value_name = "HOST:CONTAINER[:ro]")]
    volume: Vec<String>,
    /// Attach a mount: type=bind,source=..,target=..[,readonly] or type=tmpfs,target=..
    #[arg(long = "mount")]
    mount: Vec<String>,
    /// Mount a tmpfs: PATH[:OPTIONS]
    #[arg(long = "tmpfs", value_name = "PATH[:OPTIONS]")]
    tmpfs: Vec<String>,
    /// Mount the container's root filesystem read-only
    #[arg(long)]
    read_only: bool,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    cap_drop: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    privileged: bool,
    /// Security options: seccomp=unconfined|PROFILE.json, no-new-privileges
    #[arg(long = "security-opt")]
    security_opt: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    init: bool,
    /// Pull for this platform (os/arch[/variant])
    #[arg(long)]
    platform: Option<String>,
    /// Connect to a network: a user network's name, or pasta, slirp4netns (the default:
    /// pasta if installed), none, host, container:NAME
    #[arg(long = "network", visible_alias = "net", value_name = "NETWORK")]
    network: Vec<String>,
    /// Add a network-scoped alias for the container (user networks)
    #[arg(
        long = "network-alias",
        visible_alias = "net-alias",
        value_name = "ALIAS"
    )]
    network_alias: Vec<String>,
    /// IPv4 address on the container's (first) user network
    #[arg(long, value_name = "ADDRESS")]
    ip: Option<String>,
    /// Add a link to another container on a shared user network: NAME[:ALIAS]
    #[arg(long, value_name = "NAME[:ALIAS]")]
    link: Vec<String>,
    /// Publish a container's port to the host: [HOSTIP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp]
    #[arg(short = 'p', long = "publish", value_name = "PORTS")]
    publish: Vec<String>,
    /// Publish all exposed ports (the image's and --expose's) to free host ports
    #[arg(short = 'P', long = "publish-all")]
    publish_all: bool,
    /// Expose a port or a range of ports without publishing it (for -P and --link)
    #[arg(long, value_name = "PORT[/PROTO]")]
    expose: Vec<String>,
    /// Add a line to /etc/hosts: NAME:IP, or NAME:host-gateway for the host itself
    #[arg(long = "add-host", value_name = "NAME:IP")]
    add_host: Vec<String>,
    /// DNS server for the container
    #[arg(long)]
    dns: Vec<String>,
    /// DNS search domain
    #[arg(long = "dns-search")]
    dns_search: Vec<String>,
    /// DNS resolver option
    #[arg(long = "dns-option", visible_alias = "dns-opt")]
    dns_option: Vec<String>,
    /// Restart policy: no, on-failure[:MAX-RETRIES], always, unless-stopped
    #[arg(long, default_value = "no")]
    restart: String,
    /// Set metadata on the container (KEY=VALUE)
    #[arg(short = 'l', long = "label", value_name = "KEY[=VALUE]")]
    label: Vec<String>,
    /// Signal to stop the container (default: the image's StopSignal, else SIGTERM)
    #[arg(long = "stop-signal")]
    stop_signal: Option<String>,
    /// Seconds to wait for the container to stop before killing it (default 10)
    #[arg(long = "stop-timeout")]
    stop_timeout: Option<u64>,
    /// Log options: max-size=SIZE (e.g. 10m), max-file=N
    #[arg(long = "log-opt", value_name = "KEY=VALUE")]
    log_opt: Vec<String>,
    /// Pull image before running: always, missing or never
    #[arg(long, default_value = "missing", value_parser = ["always", "missing", "never"])]
    pull: String,
    /// The image to run
    image: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<i32> {
    let restart = spec::RestartPolicy::parse(&a.restart)?;
    let opts = attach::Options {
        // Docker's StdinOnce: this session's stdin is the container's.
        stdin_once: a.interactive,
        ..attach::Options::new(
            a.interactive,
            a.tty,
            a.detach_keys.as_deref(),
            a.sig_proxy.sig_proxy,
        )?
    };
    if a.rm && restart != spec::RestartPolicy::No {
        bail!("conflicting options: --restart and --rm");
    }
    let mut log = ctx.config.logs.options()?;
    for o in &a.log_opt {
        log.set(o)?;
    }
    if let Some(s) = &a.stop_signal {
        boxc::runtime::signal::parse(s)?;
    }
    let net = super::netopts::choose(ctx, &a.network)?;
    let network = net.mode;
    net.check_conflicts(&a.network_alias, a.ip.is_some(), &a.link)?;
    if net.container.is_some() {
        let conflict = [
            (a.hostname.is_some(), "hostname"),
            (!a.publish.is_empty() || a.publish_all, "port publishing"),
            (!a.add_host.is_empty(), "--add-host"),
            (
                !a.dns.is_empty() || !a.dns_search.is_empty() || !a.dns_option.is_empty(),
                "DNS",
            ),
        ];
        if let Some((_, what)) = conflict.iter().find(|(c, _)| *c) {
            bail!("conflicting options: {what} and --network container:NAME (the container shares that container's network)");
        }
    }
    let mut extra_hosts = a
        .add_host
        .iter()
        .map(|h| boxc::network::parse_add_host(h))
        .collect::<Result<Vec<_>, _>>()?;
    let dns = boxc::network::Dns {
        servers: a
            .dns
            .iter()
            .map(|d| {
                d.parse()
                    .map_err(|_| boxc::network::NetworkError::BadDns(d.clone()))
            })
            .collect::<Result<_, _>>()?,
        search: a.dns_search.clone(),
        options: a.dns_option.clone(),
    };
    let mut requests = Vec::new();
    for p in &a.publish {
        requests.extend(boxc::network::parse_publish(p)?);
    }
    if !requests.is_empty() && !matches!(network, Network::Pasta | Network::Slirp4netns) {
        bail!(boxc::network::NetworkError::NotPrivate(network.as_str()));
    }
    let mut exposed = Vec::new();
    for e in &a.expose {
        exposed.extend(boxc::network::ports::parse_expose(e)?);
    }
    let mounts = parse_mounts(&a)?;
    let security = parse_security(&a)?;
    let driver = storage::choose_driver(ctx.config.storage.driver.as_deref());
    if driver.name() == "copy" {
        bail!("storage driver copy is not implemented yet for box run (overlay and fuse-overlayfs are)");
    }
    let store = ctx.store()?;
    let default = ctx.config.default_registry();
    let image = find_or_pull(ctx, &store, &a)?;
    let config: serde_json::Value =
        serde_json::from_slice(&store.blob(&image.config_digest)?).context("image config")?;
    let image_cfg = ImageRunConfig::from_image_config(&config);
    let host_loopback = extra_hosts.iter().any(|h| h.ip.is_none());
    let image_exposed: Vec<String> = image_cfg
        .exposed_ports
        .iter()
        .flat_map(|m| m.keys().cloned())
        .collect();
    if a.publish_all && matches!(network, Network::Pasta | Network::Slirp4netns) {
        let keys: Vec<String> = image_exposed.iter().chain(&exposed).cloned().collect();
        for r in boxc::network::ports::exposed(&keys) {
            // A port `-p` publishes is not published again, as Docker's.
            let same = |q: &boxc::network::ports::PortRequest| {
                (q.container_port, q.proto) == (r.container_port, r.proto)
            };
            if !requests.iter().any(same) {
                requests.push(r);
            }
        }
    }
    // Taken ports, and ports the helper cannot forward, are an error now, before
    // anything is created; free ones are picked.
    let forwarder = match network {
        Network::Pasta => boxc::network::ports::Forwarder::Pasta,
        _ => boxc::network::ports::Forwarder::Slirp4netns { host_loopback },
    };
    let ports = boxc::network::ports::reserve(&requests, forwarder, &ctx.dirs.runtime)?;
    let gateway = match network {
        Network::Slirp4netns => boxc::network::helper::SLIRP_GATEWAY.parse().ok(),
        Network::Pasta => boxc::network::helper::host_gateway(),
        // On the host's network the host is itself.
        Network::Host => Some("127.0.0.1".parse().expect("an address")),
        Network::None | Network::Container => None,
    };
    if host_loopback && gateway.is_none() {
        bail!("--add-host NAME:host-gateway needs a network that leads to the host (not --network none)");
    }
    for h in extra_hosts.iter_mut().filter(|h| h.ip.is_none()) {
        h.ip = gateway;
    }
    let mut env = Vec::new();
    for f in &a.env_file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("cannot read env file {}", f.display()))?;
        env.extend(spec::parse_env_file(&text));
    }
    env.extend(a.env.iter().cloned());

    let containers = Containers::open(&ctx.dirs.data)?;
    // Held until the record is written: an interrupted run leaves a directory that
    // `box rm` and the prunes know to be left behind.
    let (id, name, dir, hold) = containers.create(a.name.as_deref())?;
    let joined = match &net.container {
        Some(target) => Some(containers.spec(target)?),
        None => None,
    };
    let hostname = match &joined {
        // Docker's: the container takes the hostname and files of the one it joins.
        Some(t) => t.hostname.clone(),
        None => a.hostname.clone().unwrap_or_else(|| id[..12].to_string()),
    };
    let flags = ProcessFlags {
        entrypoint: a.entrypoint.clone(),
        command: a.command.clone(),
        env,
        workdir: a.workdir.clone(),
        user: a.user.clone(),
        tty: a.tty,
    };
    let (entrypoint, cmd) = spec::command_parts(&image_cfg, &flags);
    let mut labels = image_cfg.labels.clone().unwrap_or_default();
    for l in &a.label {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_string(), v.to_string());
    }
    let made = (|| -> Result<ContainerSpec> {
        let mut process =
            spec::resolve_process(&image_cfg, &flags, &hostname, &|k| std::env::var(k).ok())?;
        write_etc_files(&dir, &hostname, network, &extra_hosts, &dns)?;
        if let Some(t) = &joined {
            for f in ["hostname", "hosts", "resolv.conf"] {
                std::fs::copy(t.dir.join("etc").join(f), dir.join("etc").join(f))?;
            }
        }
        // Addresses are handed out, and members' /etc/hosts rewritten, under the
        // network store's lock, until this container's spec is written.
        let _lock = (!net.user.is_empty() || !a.link.is_empty())
            .then(|| boxc::network::user::Networks::open(&ctx.dirs.data)?.lock())
            .transpose()?;
        // Every container's record, only when addresses are handed out: with many
        // containers, reading them all would slow every plain `box run`.
        let all = if net.user.is_empty() {
            Vec::new()
        } else {
            containers.specs()
        };
        let attachments = net.attach(&all, a.ip.as_deref(), &a.network_alias)?;
        let links = super::netopts::links(
            &containers,
            &store,
            &name,
            &attachments,
            &a.link,
            &mut process.env,
        )?;
        let spec = ContainerSpec {
            id: id.clone(),
            name: name.clone(),
            image: ImageRef::parse_with(&a.image, default)
                .map(|r| r.to_string())
                .unwrap_or_else(|_| a.image.clone()),
            image_id: image.id.clone(),
            store_root: store.root().to_path_buf(),
            lower: image
                .layers
                .iter()
                .rev()
                .map(|l| format!("l/{}", boxc::image::store::short_link(&l.digest)))
                .collect(),
            layers: image.layers.iter().map(|l| l.digest.clone()).collect(),
            dir: dir.clone(),
            driver: driver.name().to_string(),
            idmap: ctx.idmap.clone(),
            process,
            hostname: hostname.clone(),
            mounts,
            read_only: a.read_only,
            network,
            security,
            init: a.init,
            remove: a.rm,
            stdin: a.interactive,
            tty: a.tty,
            image_name: a.image.clone(),
            entrypoint,
            cmd,
            labels,
            stop_signal: a.stop_signal.clone().or(image_cfg.stop_signal.clone()),
            stop_timeout: a.stop_timeout,
            restart,
            log,
            ports: ports.clone(),
            exposed: exposed.clone(),
            host_loopback,
            extra_hosts: extra_hosts.clone(),
            dns: dns.clone(),
            networks: attachments,
            net_container: net.container.clone(),
            links,
            given: spec::Given {
                cap_add: normalized_caps(&a.cap_add)?,
                cap_drop: normalized_caps(&a.cap_drop)?,
                publish_all: a.publish_all,
                exposed_ports: image_exposed,
                detach: a.detach,
            },
        };
        // The state first: a record is never without one.
        containers.write_state(&id, &State::created())?;
        containers.write_spec(&spec)?;
        if _lock.is_some() {
            boxc::network::user::refresh_hosts(&containers.specs());
        }
        Ok(spec)
    })();
    let spec = match made {
        Ok(s) => s,
        Err(e) => {
            let _ = containers.remove(&id, &name);
            return Err(e);
        }
    };
    // The shim takes it next.
    drop(hold);
    if a.detach {
        start_shim(ctx, &spec, false)?;
        super::print(&format!("{id}\n"));
        return Ok(0);
    }
    start_shim(ctx, &spec, true)?;
    attach::attach(&shim::socket_path(ctx, &id), opts)
}

/// The image's record, pulling it first when `--pull` says so. The pull runs as a
/// child `box pull`: pulling enters the store's user namespace, and this process must
/// stay outside it to start the shim.
fn find_or_pull(
    ctx: &Ctx,
    store: &boxc::image::store::Store,
    a: &Args,
) -> Result<boxc::image::store::ImageRecord> {
    let default = ctx.config.default_registry();
    // A stored image for another platform than `--platform` asks for does not count.
    let wanted = a
        .platform
        .as_deref()
        .map(|p| super::pull::parse_platform(Some(p)))
        .transpose()?;
    let found = if a.pull == "always" {
        None
    } else {
        store.resolve(&a.image, default).ok().filter(|img| {
            wanted.as_ref().is_none_or(|w| {
                boxc::image::manifest::Platform::parse(&img.platform)
                    .is_some_and(|have| have.os == w.os && have.architecture == w.architecture)
            })
        })
    };
    if let Some(img) = found {
        return Ok(img);
    }
    if a.pull == "never" {
        bail!("No such image: {} (and --pull never)", a.image);
    }
    let r = ImageRef::parse_with(&a.image, default)?;
    if a.pull != "always" {
        eprintln!(
            "Unable to find image '{}' locally",
            r.familiar_name(default)
        );
    }
    let exe = std::env::current_exe().context("cannot find the box binary")?;
    let mut cmd = Command::new(exe);
    cmd.arg("pull");
    if let Some(p) = &a.platform {
        cmd.args(["--platform", p]);
    }
    cmd.arg(r.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr().as_fd().try_clone_to_owned()?));
    let st = cmd.status().context("cannot run box pull")?;
    if !st.success() {
        // The child has already said why.
        return Err(super::StatusError {
            code: super::EXIT_BOX_ERROR,
            message: format!("could not pull {r}"),
        }
        .into());
    }
    Ok(store.resolve(&r.to_string(), default)?)
}

/// Starts `box __shim ID NAME MODE` in its own session and waits for its "ready":
/// with `attach`, once a client may attach; else once the container runs (a
/// container that cannot start is then an error here, with its status).
pub fn start_shim(ctx: &Ctx, spec: &ContainerSpec, attach: bool) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find the box binary")?;
    let mode = if attach { "attach" } else { "detach" };
    let mut child = Command::new(exe)
        .args(["__shim", &spec.id, &spec.name, mode])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start the container's shim")?;
    let mut line = String::new();
    let _ = std::io::BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line);
    let line = line.trim_end_matches('\n');
    if line != "ready" {
        let _ = ctx;
        if let Some((code, why)) = line.strip_prefix("error ").and_then(|r| r.split_once('\t')) {
            if !attach {
                // The shim lives on to record the failure; do not wait for it.
                std::mem::forget(child);
            } else {
                let _ = child.wait();
            }
            return Err(super::StatusError {
                code: code.parse().unwrap_or(super::EXIT_BOX_ERROR),
                message: why.to_string(),
            }
            .into());
        }
        let _ = child.wait();
        return Err(anyhow!("the container's shim failed to start: it exited"));
    }
    // The shim outlives this process; it is reaped by whoever inherits it.
    std::mem::forget(child);
    Ok(())
}

/// The container's /etc/hostname, /etc/hosts and /etc/resolv.conf, bound into it.
fn write_etc_files(
    dir: &Path,
    hostname: &str,
    network: Network,
    extra: &[boxc::network::ExtraHost],
    dns: &boxc::network::Dns,
) -> Result<()> {
    let etc = dir.join("etc");
    std::fs::write(etc.join("hostname"), format!("{hostname}\n"))?;
    let hosts = match network {
        Network::Host => {
            let mut h = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
            for e in extra {
                if let Some(ip) = e.ip {
                    h.push_str(&format!("{ip}\t{}\n", e.name));
                }
            }
            h
        }
        _ => boxc::network::hosts_file(hostname, extra, None),
    };
    std::fs::write(etc.join("hosts"), hosts)?;
    let forwarder = match network {
        Network::Pasta => boxc::network::helper::PASTA_DNS.parse().ok(),
        Network::Slirp4netns => boxc::network::helper::SLIRP_DNS.parse().ok(),
        Network::None | Network::Host | Network::Container => None,
    };
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    std::fs::write(
        etc.join("resolv.conf"),
        boxc::network::resolv_conf(&host, dns, forwarder),
    )?;
    Ok(())
}

/// `-v`, `--mount` and `--tmpfs`, checked on the host side: bind sources must exist.
fn parse_mounts(a: &Args) -> Result<Vec<Mount>> {
    let mut out = Vec::new();
    let volume = |given: String, target: &str| super::notyet::NotImplemented::Volume {
        given,
        target: target.to_string(),
    };
    let bind = |source: &str, target: &str, readonly: bool| -> Result<Mount> {
        if !source.starts_with('/') {
            bail!("invalid mount source {source:?}: it must be an absolute host path");
        }
        if !target.starts_with('/') {
            bail!("invalid mount target {target:?}: it must be an absolute path");
        }
        let src = Path::new(source);
        if !src.exists() {
            bail!("bind source path does not exist: {source}");
        }
        Ok(Mount::Bind {
            source: src.canonicalize()?,
            destination: target.to_string(),
            readonly,
        })
    };
    for v in &a.volume {
        let parts: Vec<&str> = v.split(':').collect();
        match parts.as_slice() {
            [dst] | [dst, "ro" | "rw"] => return Err(volume(format!("-v {v}"), dst).into()),
            [src, dst, ..] if super::notyet::is_volume_name(src) => {
                return Err(volume(format!("-v {v}"), dst).into())
            }
            _ => {}
        }
        let m = match parts.as_slice() {
            [src, dst] => bind(src, dst, false)?,
            [src, dst, "ro"] => bind(src, dst, true)?,
            [src, dst, "rw"] => bind(src, dst, false)?,
            [_, _, opt] => bail!("unsupported volume option {opt:?} in {v:?} (ro or rw)"),
            _ => bail!("invalid volume specification {v:?}: want HOST:CONTAINER[:ro]"),
        };
        out.push(m);
    }
    for m in &a.mount {
        let mut kind = None;
        let (mut src, mut dst, mut ro) = (None, None, false);
        let mut tmpfs_opts = Vec::new();
        for kv in m.split(',') {
            let (k, v) = kv.split_once('=').unwrap_or((kv, "true"));
            match k {
                "type" => kind = Some(v.to_string()),
                "source" | "src" => src = Some(v.to_string()),
                "target" | "destination" | "dst" => dst = Some(v.to_string()),
                "readonly" | "ro" => ro = v != "false" && v != "0",
                "tmpfs-size" => tmpfs_opts.push(format!("size={v}")),
                "tmpfs-mode" => tmpfs_opts.push(format!("mode={v}")),
                other => bail!("unsupported --mount option {other:?} in {m:?}"),
            }
        }
        let dst = dst.ok_or_else(|| anyhow!("--mount {m:?} needs a target"))?;
        out.push(match kind.as_deref() {
            Some("bind") => bind(
                &src.ok_or_else(|| anyhow!("--mount {m:?} needs a source"))?,
                &dst,
                ro,
            )?,
            Some("tmpfs") => Mount::Tmpfs {
                destination: dst,
                options: tmpfs_opts,
            },
            Some("volume") => return Err(volume(format!("--mount {m}"), &dst).into()),
            Some(other) => bail!("mount type {other:?} is not supported (bind or tmpfs)"),
            None => bail!("--mount {m:?} needs a type (bind or tmpfs)"),
        });
    }
    for t in &a.tmpfs {
        let (dst, opts) = t.split_once(':').unwrap_or((t, ""));
        if !dst.starts_with('/') {
            bail!("invalid tmpfs target {dst:?}: it must be an absolute path");
        }
        let options = opts
            .split(',')
            .filter(|o| !o.is_empty())
            .map(str::to_string)
            .collect();
        out.push(Mount::Tmpfs {
            destination: dst.to_string(),
            options,
        });
    }
    Ok(out)
}

/// `--cap-add`/`--cap-drop` as Docker keeps them: `CAP_X` or `ALL`, sorted, once each.
fn normalized_caps(given: &[String]) -> Result<Vec<String>> {
    let set = given
        .iter()
        .map(|c| caps::normalize(c))
        .collect::<Result<std::collections::BTreeSet<_>, _>>()?;
    Ok(set.into_iter().collect())
}

fn parse_security(a: &Args) -> Result<Security> {
    let mut seccomp = Seccomp::Default;
    let mut no_new_privileges = false;
    for o in &a.security_opt {
        let (k, v) = o.split_once(['=', ':']).unwrap_or((o, ""));
        match (k, v) {
            ("seccomp", "unconfined") => seccomp = Seccomp::Unconfined,
            ("seccomp", file) if !file.is_empty() => {
                let text = std::fs::read_to_string(file).with_context(|| format!("cannot read seccomp profile {file}"))?;
                boxc::runtime::seccomp::from_docker_json(&text, &[]).with_context(|| format!("seccomp profile {file}"))?;
                seccomp = Seccomp::Custom(text);
            }
            ("no-new-privileges", "" | "true") => no_new_privileges = true,
            ("no-new-privileges", "false") => no_new_privileges = false,
            _ => bail!("unsupported --security-opt {o:?} (box supports seccomp=unconfined|FILE and no-new-privileges)"),
        }
    }
    let caps = caps::resolve(&a.cap_add, &a.cap_drop)?;
    Ok(Security {
        caps,
        privileged: a.privileged,
        seccomp,
        no_new_privileges,
    })
}
