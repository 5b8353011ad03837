//! The `box` library: everything the `box` binary does, below the command line.
//!
//! Dependencies point one way: `cli` (in the binary) → `image` / `runtime` → `sys`.
//! Nothing here parses command-line flags or prints to stdout; commands in `src/cli/`
//! do that through [`output`].

#![deny(unsafe_code)]

pub mod config;
pub mod container;
pub mod image;
pub mod network;
pub mod output;
pub mod runtime;
pub mod sys;
