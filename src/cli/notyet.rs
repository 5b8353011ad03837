//! What Docker has and box does not yet: builds (`build`, `image build`) and volumes
//! (`volume ...`, `-v NAME:/path`, `--mount type=volume`). The commands exist in help,
//! completion and the man pages, so that a Docker user learns at once that box lacks
//! them, and with what to do instead, rather than reading "unknown command".

use anyhow::Result;

/// Whatever Docker's command would take: nothing of it is read.
#[derive(clap::Args)]
pub struct Args {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    args: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NotImplemented {
    #[error("volumes are not implemented yet")]
    Volumes,
    /// A volume asked for on `box run`: `-v data:/x`, `-v /x`, `--mount type=volume`.
    #[error("volumes are not implemented yet: {given} asks for a volume, and box mounts only host paths and tmpfs")]
    Volume { given: String, target: String },
    #[error("builds are not implemented yet")]
    Builds,
}

impl NotImplemented {
    /// What to do instead, for the `hint:` line.
    pub fn hint(&self) -> String {
        match self {
            NotImplemented::Volumes => {
                "bind-mount a host directory instead: box run -v \"$PWD/data:/data\" IMAGE".into()
            }
            NotImplemented::Volume { target, .. } => {
                format!("bind-mount a host directory instead: -v /ABSOLUTE/HOST/PATH:{target}")
            }
            NotImplemented::Builds => {
                "build the image with podman or docker, push it to a registry, then box pull it"
                    .into()
            }
        }
    }
}

pub fn build() -> Result<i32> {
    Err(NotImplemented::Builds.into())
}

/// Whether `-v SOURCE:...` names a volume rather than a host path: Docker's rule for
/// volume names (a host path is absolute, or relative with a slash in it).
pub fn is_volume_name(source: &str) -> bool {
    let mut chars = source.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn volume_names_are_not_paths() {
        use super::is_volume_name;
        assert!(is_volume_name("data") && is_volume_name("my_vol.1-a"));
        assert!(!is_volume_name("/data") && !is_volume_name("./data"));
        assert!(!is_volume_name("a/b") && !is_volume_name("") && !is_volume_name(".x"));
    }
}
