//! Running things in namespaces: the id mapping of the user namespace, and (later) the
//! container setup plan. The image store uses [`userns`] to unpack layers with the same
//! mapping that containers will see.

pub mod idmap;
pub mod storage;
pub mod user;
pub mod userns;
