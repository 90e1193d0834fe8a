//! What a process can learn about its own container without asking anyone: its hostname and
//! its container id (from `/proc/self/cgroup`, or `/proc/self/mountinfo` under cgroup v2).

use std::io::Read;
use std::path::{Path, PathBuf};

use super::Env;

/// The files read inside the container; replaced in tests.
#[derive(Debug, Clone)]
pub(crate) struct ProcFiles {
    pub(crate) hostname: PathBuf,
    pub(crate) cgroup: PathBuf,
    pub(crate) mountinfo: PathBuf,
}

impl Default for ProcFiles {
    fn default() -> Self {
        Self {
            hostname: PathBuf::from("/proc/sys/kernel/hostname"),
            cgroup: PathBuf::from("/proc/self/cgroup"),
            mountinfo: PathBuf::from("/proc/self/mountinfo"),
        }
    }
}

impl ProcFiles {
    /// The hostname: `HOSTNAME` (Docker and Kubernetes set it to the container or pod name),
    /// else the kernel's, else `/etc/hostname`.
    pub(crate) fn hostname(&self, env: &Env) -> Option<String> {
        env.get("HOSTNAME").or_else(|| {
            [self.hostname.as_path(), Path::new("/etc/hostname")]
                .into_iter()
                .filter_map(read_small)
                .map(|text| text.trim().to_owned())
                .find(|name| !name.is_empty())
        })
    }

    /// The full id of the container this process runs in, if the files tell.
    pub(crate) fn container_id(&self) -> Option<String> {
        read_small(&self.cgroup)
            .and_then(|text| container_id_from_cgroup(&text))
            .or_else(|| read_small(&self.mountinfo).and_then(|text| container_id_from_mountinfo(&text)))
    }
}

/// Reads a small text file; `None` when it is absent, unreadable, or not text.
fn read_small(path: &Path) -> Option<String> {
    let mut text = String::new();
    std::fs::File::open(path).ok()?.take(256 * 1024).read_to_string(&mut text).ok()?;
    Some(text)
}

/// A Docker/containerd id (64 hex digits) or a Fargate one (32 hex digits, `-`, digits).
fn is_container_id(s: &str) -> bool {
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    hex(s, 64)
        || s.split_once('-').is_some_and(|(h, d)| hex(h, 32) && !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Finds the id in the last segment of a cgroup path, in any of the runtimes' spellings:
/// `/docker/<id>`, `/ecs/<task>/<id>`, `.../cri-containerd-<id>.scope`, `.../crio-<id>.scope`.
fn container_id_from_cgroup(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let path = line.splitn(3, ':').nth(2)?;
        let last = path.rsplit('/').next()?.trim();
        let last = last.strip_suffix(".scope").unwrap_or(last);
        if is_container_id(last) {
            return Some(last.to_owned());
        }
        last.rsplit_once('-').map(|(_, id)| id).filter(|id| is_container_id(id)).map(str::to_owned)
    })
}

/// Under cgroup v2 the cgroup file only says `0::/`; Docker's bind mounts of
/// `/var/lib/docker/containers/<id>/hostname` (and `resolv.conf`, `hosts`) still name the id.
/// Sandbox (pause container) paths are deliberately not matched: they name the pod, not us.
fn container_id_from_mountinfo(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        line.split_whitespace().find_map(|field| {
            let (_, rest) = field.split_once("/containers/")?;
            let id = rest.split('/').next()?;
            is_container_id(id).then(|| id.to_owned())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3ef0f6a2b1c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e";

    #[test]
    fn finds_the_container_id_in_cgroup_files() {
        let fargate = "a8e6f6b5c4d3e2f1a0b9c8d7e6f5a4b3-1234567890";
        #[rustfmt::skip]
        let cases: Vec<(String, Option<&str>)> = vec![
            (format!("12:memory:/docker/{ID}\n11:cpu:/docker/{ID}\n"), Some(ID)),
            (format!("9:perf_event:/ecs/5a0d5ceddf6c44a0a3f0b6b3f3b6e2c1/{ID}\n"), Some(ID)),
            (format!("0::/ecs/a8e6f6b5c4d3e2f1a0b9c8d7e6f5a4b3/{fargate}\n"), Some(fargate)),
            (format!("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1f2e.slice/cri-containerd-{ID}.scope\n"), Some(ID)),
            (format!("1:name=systemd:/kubepods/besteffort/pod7a1b/crio-{ID}.scope\n"), Some(ID)),
            (format!("4:cpu:/kubepods/burstable/pod0c1d2e3f/{ID}\n"), Some(ID)),
            ("0::/\n".to_owned(), None),
            ("12:memory:/user.slice/user-1000.slice/session-2.scope\n".to_owned(), None),
            (format!("12:memory:/docker/{}\n", &ID[..63]), None),
            ("garbage without colons\n\n".to_owned(), None),
        ];
        for (text, want) in cases {
            assert_eq!(container_id_from_cgroup(&text).as_deref(), want, "{text}");
        }
    }

    #[test]
    fn finds_the_container_id_in_mountinfo_under_cgroup_v2() {
        let docker = format!(
            "615 600 0:52 / / rw,relatime master:1 - overlay overlay rw\n\
             640 615 259:1 /var/lib/docker/containers/{ID}/hostname /etc/hostname rw,relatime - ext4 /dev/root rw\n"
        );
        assert_eq!(container_id_from_mountinfo(&docker).as_deref(), Some(ID));
        let sandbox = format!(
            "701 690 259:1 /var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/{ID}/hostname /etc/hostname rw - ext4 /dev/root rw\n"
        );
        assert_eq!(container_id_from_mountinfo(&sandbox), None);
    }

    #[test]
    fn reads_hostname_and_id_from_files_with_env_first() {
        let dir = super::super::tests::TempDir::new("container");
        let files = ProcFiles {
            hostname: dir.write("hostname", "node-host-7\n"),
            cgroup: dir.write("cgroup", "0::/\n"),
            mountinfo: dir
                .write("mountinfo", &format!("1 2 3:4 /var/lib/docker/containers/{ID}/hosts /etc/hosts rw\n")),
        };
        let no_env = Env::from_fn(|_| None);
        assert_eq!(files.hostname(&no_env).as_deref(), Some("node-host-7"));
        let env = Env::from_fn(|name| (name == "HOSTNAME").then(|| "pod-abc".to_owned()));
        assert_eq!(files.hostname(&env).as_deref(), Some("pod-abc"));
        assert_eq!(files.container_id().as_deref(), Some(ID));

        let missing = ProcFiles { hostname: dir.path("nope"), cgroup: dir.path("nope"), mountinfo: dir.path("nope") };
        assert_eq!(missing.container_id(), None);
    }
}
