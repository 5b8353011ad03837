//! Images: references, the registry client, manifests, unpacking layers and the
//! on-disk store. The registry client is the only async code in box.

pub mod auth;
pub mod manifest;
pub mod pull;
pub mod reference;
pub mod registry;
pub mod store;
pub mod unpack;

pub use reference::ImageRef;
