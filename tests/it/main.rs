//! Integration tests: the real `box` binary, run as an unprivileged user with a
//! subuid range, as one without, and as root, against the registry that
//! `tests/run.sh` starts on 127.0.0.1 and fills with fixtures it builds itself.

#[macro_use]
mod harness;
mod attach;
mod cli;
mod completion;
mod cp;
mod ctr;
mod exec;
mod format;
mod images;
mod info;
mod inspect;
mod lifecycle;
mod logs;
mod network;
mod ports;
mod pull;
mod robust;
mod run;
mod store;
mod survival;
mod term;
mod usernet;
