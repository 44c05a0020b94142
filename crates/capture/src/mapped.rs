//! A capture file read through a sliding read-only mapping instead of
//! `read()` copies.
//!
//! Decoding touches a packet's headers, not its payload; `read()` made the
//! kernel copy every byte of the file (a tenth of the quick start's CPU on
//! a capture of 650-byte frames). A [`Window`] maps [`WINDOW`] bytes of the
//! file at a time, so the process's resident memory stays bounded whatever
//! the file's size, and moves on when the reader does.
//!
//! A mapped file that another program truncates (a ring buffer that
//! rewrites its oldest file) would kill the process with SIGBUS at the
//! next read past its new end. A process-wide SIGBUS handler catches the
//! faults inside the mappings registered here: it maps a page of zeros
//! where the file's page was and marks the mapping damaged, and the reader
//! reports the file as cut short while being read. Faults anywhere else
//! go to the handler installed before this one (Rust's stack-overflow
//! report) or take the default action, as if this handler were not there.
//!
//! The only `unsafe` code of netanom: `mmap`, `munmap`, `sigaction` and
//! the slice over the mapping, each with its reason beside it.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Bytes mapped at a time (a multiple of any page size, and more than the
/// largest record the reader accepts).
const WINDOW: usize = 64 << 20;

/// Files mapped at once, process-wide; a reader that finds no free slot
/// reads with `read()` instead.
const SLOTS: usize = 1024;

/// A registered mapping: where it is, and whether a fault hit it.
struct Slot {
    /// Whether a [`Window`] owns the slot.
    used: AtomicBool,
    /// First address of the mapping (0 while none is registered).
    start: AtomicUsize,
    /// Length of the mapping.
    len: AtomicUsize,
    /// Set by the SIGBUS handler: a page of the mapping was gone.
    hit: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)] // the array's initializer
const FREE: Slot = Slot {
    used: AtomicBool::new(false),
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    hit: AtomicBool::new(false),
};

static TABLE: [Slot; SLOTS] = [FREE; SLOTS];

/// The SIGBUS action before ours (installed once, on the first mapping).
static PREVIOUS: OnceLock<Option<Previous>> = OnceLock::new();

/// A saved `sigaction` (plain data, read by the handler).
struct Previous(libc::sigaction);

// SAFETY: `sigaction` is integers and a signal mask; it is written once
// before the handler can run and only read after.
unsafe impl Sync for Previous {}
unsafe impl Send for Previous {}

fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(n)
            .ok()
            .filter(|n| n.is_power_of_two())
            .unwrap_or(4096)
    })
}

/// Installs the handler once; false if that failed (no mapping is made).
fn install() -> bool {
    PREVIOUS
        .get_or_init(|| {
            // SAFETY: a zeroed `sigaction` is a valid value; the handler
            // only touches atomics, `mmap` and the saved action.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_sigbus as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                let mut previous: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(libc::SIGBUS, &action, &mut previous) != 0 {
                    return None;
                }
                Some(Previous(previous))
            }
        })
        .is_some()
}

/// The SIGBUS handler: a fault inside a registered mapping gets a page of
/// zeros and marks the mapping; any other goes to the previous action.
extern "C" fn on_sigbus(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid `siginfo_t` with SA_SIGINFO.
    let addr = unsafe { (*info).si_addr() } as usize;
    for slot in &TABLE {
        let start = slot.start.load(Ordering::Acquire);
        if start == 0 || addr < start || addr - start >= slot.len.load(Ordering::Acquire) {
            continue;
        }
        let page = addr & !(page_size() - 1);
        // SAFETY: the page lies inside a mapping this module owns and
        // does not unmap while its reader runs; MAP_FIXED replaces it
        // with anonymous zeros, so the faulting read can complete.
        let zeros = unsafe {
            libc::mmap(
                page as *mut libc::c_void,
                page_size(),
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if zeros != libc::MAP_FAILED {
            slot.hit.store(true, Ordering::Release);
            return;
        }
        break;
    }
    // Not ours (or no page could be put in): as if we were not there.
    // SAFETY: the previous action was saved by `sigaction` itself.
    unsafe {
        match PREVIOUS.get() {
            Some(Some(Previous(prev)))
                if prev.sa_sigaction != libc::SIG_DFL && prev.sa_sigaction != libc::SIG_IGN =>
            {
                if prev.sa_flags & libc::SA_SIGINFO != 0 {
                    let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                        std::mem::transmute(prev.sa_sigaction);
                    f(signal, info, context);
                } else {
                    let f: extern "C" fn(libc::c_int) = std::mem::transmute(prev.sa_sigaction);
                    f(signal);
                }
            }
            _ => {
                // Back to the default action: the fault repeats on return
                // and ends the process as it would have.
                let mut default: libc::sigaction = std::mem::zeroed();
                default.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(libc::SIGBUS, &default, std::ptr::null_mut());
            }
        }
    }
}

/// A read-only mapping of part of a file, that moves along it.
pub(crate) struct Window {
    file: File,
    slot: &'static Slot,
    /// Start of the mapping (null when nothing is mapped).
    ptr: *mut libc::c_void,
    /// Bytes mapped.
    cap: usize,
    /// File offset of the mapping's first byte.
    offset: u64,
    /// Bytes of the mapping that the file had at the last look.
    valid: usize,
    /// The longest the file was seen to be.
    seen: u64,
    /// The file was seen shorter than before.
    shrunk: bool,
}

// SAFETY: the mapping is owned by the window (like a `Vec`'s buffer) and
// only read through `&self`.
unsafe impl Send for Window {}
unsafe impl Sync for Window {}

impl Window {
    /// Maps the start of `file`. `None` where mapping does not apply (not a
    /// regular file, no free slot, the handler or `mmap` failed): the
    /// caller reads with `read()` instead.
    pub(crate) fn open(file: &File) -> Option<Window> {
        if !cfg!(target_os = "linux") || !file.metadata().ok()?.is_file() || !install() {
            return None;
        }
        let slot = TABLE.iter().find(|s| {
            s.used
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        })?;
        slot.hit.store(false, Ordering::Release);
        let mut window = Window {
            file: file.try_clone().ok()?,
            slot,
            ptr: std::ptr::null_mut(),
            cap: 0,
            offset: 0,
            valid: 0,
            seen: 0,
            shrunk: false,
        };
        window.map(0, WINDOW).ok()?;
        Some(window)
    }

    /// The mapped bytes the file has (as of the last look).
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        if self.ptr.is_null() {
            return &[];
        }
        // SAFETY: `ptr` maps `cap >= valid` bytes of the file, readable
        // until `unmap`, which takes `&mut self`; pages the file loses
        // meanwhile read as zeros (the SIGBUS handler).
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.valid) }
    }

    /// Asks the CPU to start loading the cache lines of `bytes()[at..]`
    /// (the next record's header and packet headers): the stride between
    /// records varies, which hardware prefetchers do not follow, and a
    /// mapped page cache line is a miss where `read()`'s copy had it warm.
    #[inline(always)]
    pub(crate) fn prefetch(&self, at: usize) {
        #[cfg(target_arch = "x86_64")]
        if at < self.valid {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            // SAFETY: a prefetch is a hint: it never faults, whatever the
            // address (and this one is inside the mapping).
            unsafe {
                let p = (self.ptr as *const i8).add(at);
                _mm_prefetch::<_MM_HINT_T0>(p);
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64));
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(1024));
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(1088));
            }
        }
    }

    /// The file offset of `bytes()[0]`.
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the file lost bytes while mapped (they read as zeros).
    #[inline]
    pub(crate) fn damaged(&self) -> bool {
        self.shrunk || self.slot.hit.load(Ordering::Acquire)
    }

    /// Makes the file's bytes from offset `from` (at least `self.offset()`)
    /// on available, `need` of them if the file has them: looks at the
    /// file's length again, and maps a new window starting at `from` when
    /// the current one ends too early.
    pub(crate) fn advance(&mut self, from: u64, need: usize) -> io::Result<()> {
        let size = self.file.metadata()?.len();
        self.shrunk |= size < self.seen;
        self.seen = self.seen.max(size);
        let end = from.saturating_add(need as u64);
        if from < self.offset || end > self.offset + self.cap as u64 {
            let page = page_size() as u64;
            let start = from & !(page - 1);
            let span = usize::try_from(end - start).unwrap_or(usize::MAX);
            let cap = WINDOW.max(span.div_ceil(page_size()) * page_size());
            self.unmap();
            self.map(start, cap)?;
        }
        self.valid = usize::try_from(size.saturating_sub(self.offset))
            .unwrap_or(usize::MAX)
            .min(self.cap);
        Ok(())
    }

    fn map(&mut self, offset: u64, cap: usize) -> io::Result<()> {
        let file_offset = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset out of range"))?;
        // SAFETY: a fresh shared read-only mapping of our own file; it may
        // reach past the file's end, but `bytes` never shows those pages.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                cap,
                libc::PROT_READ,
                libc::MAP_SHARED,
                self.file.as_raw_fd(),
                file_offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        self.ptr = ptr;
        self.cap = cap;
        self.offset = offset;
        self.valid = 0;
        self.slot.len.store(cap, Ordering::Release);
        self.slot.start.store(ptr as usize, Ordering::Release);
        Ok(())
    }

    fn unmap(&mut self) {
        if self.ptr.is_null() {
            return;
        }
        self.slot.start.store(0, Ordering::Release);
        // SAFETY: `ptr`/`cap` is a mapping made by `map`, no longer
        // borrowed (`&mut self`).
        unsafe { libc::munmap(self.ptr, self.cap) };
        self.ptr = std::ptr::null_mut();
        self.cap = 0;
        self.valid = 0;
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        self.unmap();
        self.slot.used.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::tests::TempFile;

    fn temp_file(name: &str, bytes: &[u8]) -> (TempFile, File) {
        let tmp = TempFile::new(&format!("window-{name}"), bytes);
        let file = File::open(&tmp.0).expect("open");
        (tmp, file)
    }

    #[test]
    fn reads_grows_and_slides() {
        let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let (tmp, file) = temp_file("grow", &bytes);
        let mut w = Window::open(&file).expect("mapped");
        w.advance(0, 1).expect("advance");
        assert_eq!(w.bytes(), &bytes[..]);
        // The file grows: the next look sees the new bytes.
        tmp.append(&[7; 5000]);
        w.advance(100_000, 10).expect("advance");
        assert_eq!(w.bytes().len(), 105_000);
        assert_eq!(&w.bytes()[100_000..], &[7; 5000][..]);
        // Past the window: a new one, from the page of `from`.
        w.advance(WINDOW as u64 + 4097, 10).expect("advance");
        assert_eq!(w.offset() % page_size() as u64, 0);
        assert!(w.offset() <= WINDOW as u64 + 4097);
        assert!(w.bytes().is_empty(), "the file has nothing there");
        w.advance(page_size() as u64 + 3, 10).expect("advance");
        assert_eq!(w.offset(), page_size() as u64);
        assert_eq!(
            w.bytes(),
            &[&bytes[page_size()..], &[7; 5000][..]].concat()[..]
        );
        assert!(!w.damaged());
    }

    #[test]
    fn a_file_cut_short_reads_zeros_and_is_marked() {
        let page = page_size();
        let (tmp, file) = temp_file("cut", &vec![0xab; 4 * page]);
        let mut w = Window::open(&file).expect("mapped");
        w.advance(0, 1).expect("advance");
        assert_eq!(w.bytes().len(), 4 * page);
        assert_eq!(w.bytes()[3 * page], 0xab);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&tmp.0)
            .expect("open")
            .set_len(page as u64)
            .expect("truncate");
        // Past the new end: a SIGBUS without the handler.
        let after: Vec<u8> = w.bytes()[2 * page..2 * page + 16].to_vec();
        assert_eq!(after, vec![0; 16]);
        assert!(w.damaged());
        assert_eq!(w.bytes()[0], 0xab, "pages the file still has are intact");
        // The next look sees the shorter file.
        w.advance(0, 1).expect("advance");
        assert_eq!(w.bytes().len(), page);
        assert!(w.damaged());
    }

    /// In a child process (see below): a fault in a mapping that is not
    /// a window's must still end the process, with the handler installed.
    #[test]
    fn child_faults_outside_windows() {
        if std::env::var_os("NETANOM_SIGBUS_CHILD").is_none() {
            return;
        }
        let page = page_size();
        let (tmp, file) = temp_file("foreign", &vec![1; 2 * page]);
        let _window = Window::open(&file).expect("mapped");
        // SAFETY: a mapping made and read here on purpose, to fault.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                2 * page,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            ) as *const u8;
            assert_ne!(p as *mut libc::c_void, libc::MAP_FAILED);
            std::fs::OpenOptions::new()
                .write(true)
                .open(&tmp.0)
                .and_then(|f| f.set_len(0))
                .expect("truncate");
            // The process dies below, before `tmp` could remove it.
            std::fs::remove_file(&tmp.0).ok();
            std::ptr::read_volatile(p.add(page));
        }
        // Not reached.
        std::process::exit(0);
    }

    #[test]
    fn faults_outside_windows_still_end_the_process() {
        use std::os::unix::process::ExitStatusExt;
        let status = std::process::Command::new(std::env::current_exe().expect("exe"))
            .args([
                "--exact",
                "mapped::tests::child_faults_outside_windows",
                "--nocapture",
            ])
            .env("NETANOM_SIGBUS_CHILD", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("run child");
        assert_eq!(status.signal(), Some(libc::SIGBUS), "{status:?}");
    }

    #[test]
    fn only_regular_files_are_mapped() {
        let dir = File::open(std::env::temp_dir()).expect("open dir");
        assert!(Window::open(&dir).is_none());
    }
}
