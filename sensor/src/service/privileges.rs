//! Dropping root: started as root outside systemd, the sensor opens its capture handles and
//! its listening socket, then becomes `[sensor] user` (with that user's group), keeping only
//! CAP_NET_RAW and CAP_NET_ADMIN, which it needs to reopen an interface that went away. The
//! parsers never run as root when a user is configured: call [`drop_to`] before any thread is
//! started, so that every thread runs as the user.

use anyhow::Context;
use caps::{CapSet, Capability, CapsHashSet};
use nix::unistd::{setgid, setgroups, setuid, Uid, User};

/// Becomes `name` (and its primary group) with only the capture capabilities. Not running as
/// root, it checks that it already is that user and says so otherwise.
pub fn drop_to(name: &str) -> anyhow::Result<()> {
    let user = User::from_name(name)
        .with_context(|| format!("sensor.user: cannot look up user {name:?}"))?
        .with_context(|| format!("sensor.user: no user {name:?} on this system"))?;
    if !Uid::effective().is_root() {
        if Uid::effective() == user.uid {
            return Ok(());
        }
        anyhow::bail!(
            "sensor.user: running as uid {}, not root, so cannot become {name:?}",
            Uid::effective()
        );
    }
    let keep: CapsHashSet = [Capability::CAP_NET_RAW, Capability::CAP_NET_ADMIN]
        .into_iter()
        .collect();
    caps::securebits::set_keepcaps(true).context("sensor.user: cannot keep capabilities")?;
    setgroups(&[user.gid]).context("sensor.user: cannot set groups")?;
    setgid(user.gid).context("sensor.user: cannot set group")?;
    setuid(user.uid).context("sensor.user: cannot set user")?;
    caps::set(None, CapSet::Permitted, &keep).context("sensor.user: cannot set capabilities")?;
    caps::set(None, CapSet::Effective, &keep).context("sensor.user: cannot set capabilities")?;
    caps::set(None, CapSet::Inheritable, &CapsHashSet::new())
        .context("sensor.user: cannot set capabilities")?;
    caps::securebits::set_keepcaps(false).context("sensor.user: cannot reset keepcaps")?;
    if Uid::effective().is_root() || Uid::current().is_root() {
        anyhow::bail!("sensor.user: still root after switching to {name:?}");
    }
    tracing::info!(
        "Running as {name} (uid {}, gid {}) with CAP_NET_RAW and CAP_NET_ADMIN only.",
        user.uid,
        user.gid
    );
    Ok(())
}
