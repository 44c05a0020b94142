//! Which files of the directory were closed after writing (Linux inotify
//! `IN_CLOSE_WRITE`): a capture that stops closes its last file, which is
//! then finished at once instead of after `idle_close`. Elsewhere, or if
//! inotify is unavailable (no more watches), nothing is reported and
//! `idle_close` decides alone.

use std::collections::HashSet;
use std::path::Path;

/// At most this many names are remembered (closes of files that are never
/// read are not kept forever).
const MAX_NAMES: usize = 4096;

/// A watch on one directory.
pub struct Closed {
    #[cfg(target_os = "linux")]
    watch: Option<inotify::Inotify>,
    names: HashSet<String>,
}

impl Closed {
    /// Watches `dir` (best effort).
    pub fn watch(dir: &Path) -> Closed {
        #[cfg(target_os = "linux")]
        let watch = inotify::Inotify::init().ok().and_then(|i| {
            i.watches()
                .add(dir, inotify::WatchMask::CLOSE_WRITE)
                .ok()
                .map(|_| i)
        });
        #[cfg(not(target_os = "linux"))]
        let _ = dir;
        Closed {
            #[cfg(target_os = "linux")]
            watch,
            names: HashSet::new(),
        }
    }

    /// Whether `name` was closed after writing since the watch started
    /// (or since it was last forgotten).
    pub fn was_closed(&mut self, name: &str) -> bool {
        #[cfg(target_os = "linux")]
        if let Some(watch) = self.watch.as_mut() {
            let mut buf = [0u8; 4096];
            // Non-blocking: an empty queue ends the loop (WouldBlock).
            while let Ok(events) = watch.read_events(&mut buf) {
                let mut any = false;
                for event in events {
                    any = true;
                    if let Some(n) = event.name {
                        if self.names.len() < MAX_NAMES {
                            self.names.insert(n.to_string_lossy().into_owned());
                        }
                    }
                }
                if !any {
                    break;
                }
            }
        }
        self.names.contains(name)
    }

    /// Forgets `name` (its file is done; a ring may write it again).
    pub fn forget(&mut self, name: &str) {
        self.names.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_file_is_seen_and_an_open_one_is_not() {
        let dir = std::env::temp_dir().join(format!("netanom-closed-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let mut closed = Closed::watch(&dir);
        let open = std::fs::File::create(dir.join("open.pcap")).expect("create");
        std::fs::write(dir.join("done.pcap"), b"x").expect("write");
        if cfg!(target_os = "linux") {
            assert!(closed.was_closed("done.pcap"));
        }
        assert!(!closed.was_closed("open.pcap"));
        closed.forget("done.pcap");
        assert!(!closed.was_closed("done.pcap"));
        drop(open);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
