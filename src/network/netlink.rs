//! The links of user networks, made with rtnetlink: a bridge per network in the
//! holder's network namespace, and a veth pair per container and network, one end on
//! the bridge, the other inside the container as `ethN`.
//!
//! Every function works on the network namespaces given as file descriptors, entering
//! them with `setns` on the calling thread. The caller must already be in the user
//! namespace that owns them (the holder's), where it has CAP_NET_ADMIN, and must be a
//! process of its own (a forked child): the thread's network namespace is changed for
//! good. rtnetlink is asynchronous; a current-thread runtime keeps every socket on
//! this one thread, in the namespace it was opened in.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use futures_util::TryStreamExt;
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkInfo, LinkMessage,
};
use rtnetlink::{Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum NetlinkError {
    #[error("cannot enter the {0} network namespace: {1}")]
    Enter(&'static str, nix::Error),
    #[error("netlink: {0}")]
    Io(#[from] std::io::Error),
    #[error("netlink: {what}: {source}")]
    Request {
        what: String,
        source: rtnetlink::Error,
    },
}

/// One network interface of a container.
pub struct Endpoint<'a> {
    pub bridge: &'a str,
    pub gateway: Ipv4Addr,
    pub prefix: u8,
    pub ip: Ipv4Addr,
    pub mac: [u8; 6],
    pub ifname: &'a str,
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> Result<T, NetlinkError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    Ok(rt.block_on(f))
}

fn enter(ns: BorrowedFd, which: &'static str) -> Result<(), NetlinkError> {
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| NetlinkError::Enter(which, e))
}

/// A connection in the calling thread's current network namespace.
fn connect() -> Result<Handle, NetlinkError> {
    let (conn, handle, _) = rtnetlink::new_connection()?;
    tokio::spawn(conn);
    Ok(handle)
}

fn request(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> NetlinkError {
    let what = what.into();
    move |source| NetlinkError::Request { what, source }
}

async fn links(h: &Handle) -> Result<Vec<LinkMessage>, NetlinkError> {
    h.link()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(request("list links"))
}

fn name_of(m: &LinkMessage) -> Option<&str> {
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
    })
}

fn kind_of(m: &LinkMessage) -> Option<&InfoKind> {
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
            LinkInfo::Kind(k) => Some(k),
            _ => None,
        }),
        _ => None,
    })
}

fn controller_of(m: &LinkMessage) -> Option<u32> {
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::Controller(i) => Some(*i),
        _ => None,
    })
}

async fn index_of(h: &Handle, name: &str) -> Result<Option<u32>, NetlinkError> {
    Ok(links(h)
        .await?
        .iter()
        .find(|m| name_of(m) == Some(name))
        .map(|m| m.header.index))
}

/// The bridge, made and given the gateway's address if it is not there yet.
async fn ensure_bridge(h: &Handle, ep: &Endpoint<'_>) -> Result<u32, NetlinkError> {
    if let Some(i) = index_of(h, ep.bridge).await? {
        return Ok(i);
    }
    h.link()
        .add(LinkBridge::new(ep.bridge).up().build())
        .execute()
        .await
        .map_err(request(format!("create bridge {}", ep.bridge)))?;
    let index = index_of(h, ep.bridge)
        .await?
        .ok_or_else(|| std::io::Error::other(format!("bridge {} vanished", ep.bridge)))?;
    h.address()
        .add(index, IpAddr::V4(ep.gateway), ep.prefix)
        .execute()
        .await
        .map_err(request(format!("address {} on {}", ep.gateway, ep.bridge)))?;
    Ok(index)
}

/// Connects the container whose network namespace is `container` to each endpoint's
/// bridge in `holder`: a veth pair is made in the holder's namespace with its peer
/// born inside the container's, there named `ifname`, addressed and up. Also brings
/// the container's loopback up.
pub fn attach(
    holder: BorrowedFd,
    container: BorrowedFd,
    endpoints: &[Endpoint],
) -> Result<(), NetlinkError> {
    block_on(async {
        enter(holder, "holder's")?;
        let h = connect()?;
        for ep in endpoints {
            let bridge = ensure_bridge(&h, ep).await?;
            let host_end = format!("veth{:08x}", rand::random::<u32>());
            let peer = LinkMessageBuilder::<LinkUnspec>::new()
                .name(ep.ifname.to_string())
                .address(ep.mac.to_vec())
                .setns_by_fd(container.as_raw_fd())
                .build();
            let veth = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
                .name(host_end.clone())
                .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
                .controller(bridge)
                .up()
                .build();
            h.link()
                .add(veth)
                .execute()
                .await
                .map_err(request(format!("create veth {host_end} for {}", ep.ifname)))?;
        }
        enter(container, "container's")?;
        let h = connect()?;
        crate::sys::loopback_up()?;
        for ep in endpoints {
            let index = index_of(&h, ep.ifname).await?.ok_or_else(|| {
                std::io::Error::other(format!("{} did not arrive in the container", ep.ifname))
            })?;
            h.address()
                .add(index, IpAddr::V4(ep.ip), ep.prefix)
                .execute()
                .await
                .map_err(request(format!("address {} on {}", ep.ip, ep.ifname)))?;
            h.link()
                .set(LinkUnspec::new_with_index(index).up().build())
                .execute()
                .await
                .map_err(request(format!("set {} up", ep.ifname)))?;
        }
        Ok(())
    })?
}

/// Removes the container's `ifname`; its veth peer on the bridge goes with it.
pub fn detach(container: BorrowedFd, ifname: &str) -> Result<(), NetlinkError> {
    block_on(async {
        enter(container, "container's")?;
        let h = connect()?;
        if let Some(index) = index_of(&h, ifname).await? {
            h.link()
                .del(index)
                .execute()
                .await
                .map_err(request(format!("delete {ifname}")))?;
        }
        Ok(())
    })?
}

/// In the holder's own namespace: deletes bridges that no container is on any more,
/// and says how many container links are left.
pub fn collect_garbage() -> Result<usize, NetlinkError> {
    block_on(async {
        let h = connect()?;
        let all = links(&h).await?;
        let veths = all
            .iter()
            .filter(|m| kind_of(m) == Some(&InfoKind::Veth))
            .count();
        for b in all.iter().filter(|m| kind_of(m) == Some(&InfoKind::Bridge)) {
            let used = all.iter().any(|m| controller_of(m) == Some(b.header.index));
            if !used {
                h.link()
                    .del(b.header.index)
                    .execute()
                    .await
                    .map_err(request("delete an unused bridge"))?;
            }
        }
        Ok(veths)
    })?
}

/// Changes of links in the current network namespace, as they happen.
pub struct LinkEvents {
    rt: tokio::runtime::Runtime,
    events: futures_util::stream::BoxStream<'static, ()>,
}

impl LinkEvents {
    pub fn subscribe() -> Result<LinkEvents, NetlinkError> {
        use futures_util::StreamExt;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let events = rt.block_on(async {
            let (conn, _h, events) =
                rtnetlink::new_multicast_connection(&[rtnetlink::MulticastGroup::Link])?;
            tokio::spawn(conn);
            Ok::<_, std::io::Error>(events.map(|_| ()).boxed())
        })?;
        Ok(LinkEvents { rt, events })
    }

    /// Waits for the next change, or until `timeout` passes.
    pub fn wait(&mut self, timeout: std::time::Duration) {
        use futures_util::StreamExt;
        let events = &mut self.events;
        self.rt.block_on(async {
            let _ = tokio::time::timeout(timeout, events.next()).await;
        });
    }
}

/// The inode of a namespace, to tell whether two handles name the same one.
pub fn ns_inode(fd: impl AsFd) -> Option<u64> {
    rustix::fs::fstat(fd).ok().map(|s| s.st_ino)
}
