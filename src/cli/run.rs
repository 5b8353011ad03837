//! `box run [OPTIONS] IMAGE [COMMAND [ARG...]]`: resolve the image (pulling it when
//! missing), turn flags and image config into a container spec, start the container's
//! shim, and attach to it until the container ends.

use std::io::BufRead;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};

use boxc::container::{now, Containers, State, Status};

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
    /// Network: none or host
    #[arg(long, default_value = "none")]
    network: String,
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
    if a.detach {
        bail!("box run -d is not implemented yet (detached containers come with the container lifecycle commands)");
    }
    let network = match a.network.as_str() {
        "none" => Network::None,
        "host" => Network::Host,
        other => bail!("network {other:?} is not supported yet: box run supports --network none and --network host"),
    };
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
    let mut env = Vec::new();
    for f in &a.env_file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("cannot read env file {}", f.display()))?;
        env.extend(spec::parse_env_file(&text));
    }
    env.extend(a.env.iter().cloned());

    let containers = Containers::open(&ctx.dirs.data)?;
    let (id, name, dir) = containers.create(a.name.as_deref())?;
    let hostname = a.hostname.clone().unwrap_or_else(|| id[..12].to_string());
    let flags = ProcessFlags {
        entrypoint: a.entrypoint.clone(),
        command: a.command.clone(),
        env,
        workdir: a.workdir.clone(),
        user: a.user.clone(),
        tty: a.tty,
    };
    let made = (|| -> Result<ContainerSpec> {
        let process =
            spec::resolve_process(&image_cfg, &flags, &hostname, &|k| std::env::var(k).ok())?;
        write_etc_files(&dir, &hostname, network)?;
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
        };
        containers.write_spec(&spec)?;
        let created = State {
            status: Status::Created,
            pid: None,
            shim_pid: None,
            exit_code: None,
            created_at: now(),
            started_at: None,
            finished_at: None,
            error: None,
        };
        containers.write_state(&id, &created)?;
        Ok(spec)
    })();
    let spec = match made {
        Ok(s) => s,
        Err(e) => {
            let _ = containers.remove(&id, &name);
            return Err(e);
        }
    };
    start_shim(ctx, &spec)?;
    attach::attach(
        &shim::socket_path(ctx, &id),
        attach::Options {
            stdin: a.interactive,
            tty: a.tty,
        },
    )
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

/// Starts `box __shim ID NAME` in its own session and waits for its "ready".
fn start_shim(ctx: &Ctx, spec: &ContainerSpec) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find the box binary")?;
    let mut child = Command::new(exe)
        .args(["__shim", &spec.id, &spec.name])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start the container's shim")?;
    let mut line = String::new();
    let _ = std::io::BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line);
    if line.trim() != "ready" {
        let _ = child.wait();
        let why = line
            .trim()
            .strip_prefix("error: ")
            .unwrap_or(line.trim())
            .to_string();
        let _ = ctx;
        return Err(anyhow!(
            "the container's shim failed to start: {}",
            if why.is_empty() { "it exited" } else { &why }
        ));
    }
    // The shim outlives this process; it is reaped by whoever inherits it.
    std::mem::forget(child);
    Ok(())
}

fn write_etc_files(dir: &Path, hostname: &str, network: Network) -> Result<()> {
    let etc = dir.join("etc");
    std::fs::write(etc.join("hostname"), format!("{hostname}\n"))?;
    let hosts = match network {
        Network::Host => std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
        Network::None => format!("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.0.1\t{hostname}\n"),
    };
    std::fs::write(etc.join("hosts"), hosts)?;
    std::fs::write(
        etc.join("resolv.conf"),
        std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
    )?;
    Ok(())
}

/// `-v`, `--mount` and `--tmpfs`, checked on the host side: bind sources must exist.
fn parse_mounts(a: &Args) -> Result<Vec<Mount>> {
    let mut out = Vec::new();
    let bind = |source: &str, target: &str, readonly: bool| -> Result<Mount> {
        if !source.starts_with('/') {
            bail!("named volumes are not supported yet: {source:?} (give an absolute host path)");
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
