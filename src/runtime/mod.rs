//! Running things in namespaces: the id mapping of the user namespace, and (later) the
//! container setup plan. The image store uses [`userns`] to unpack layers with the same
//! mapping that containers will see.

pub mod caps;
pub mod cp;
pub mod create;
pub mod exec;
pub mod idmap;
pub mod init;
pub mod plan;
pub mod procs;
pub mod seccomp;
pub mod signal;
pub mod spec;
pub mod storage;
pub mod user;
pub mod userns;
