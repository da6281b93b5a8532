//! libpcap, loaded at run time (libpcap.so.0.8, which tcpdump and tshark
//! install): its filter compiler, so an expression means here exactly what
//! it means to tcpdump, and its live capture. Each call is declared with
//! the types of pcap/pcap.h.

use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};

use libloading::Library;

use crate::LiveError;

/// `struct bpf_program`.
#[repr(C)]
struct Program {
    len: c_uint,
    insns: *mut c_void,
}

/// `struct pcap_pkthdr`.
#[repr(C)]
struct PktHdr {
    ts: libc::timeval,
    caplen: u32,
    len: u32,
}

/// `struct pcap_stat`.
#[repr(C)]
#[derive(Default)]
struct Stat {
    recv: c_uint,
    drop: c_uint,
    ifdrop: c_uint,
}

type OpenDead = unsafe extern "C" fn(c_int, c_int) -> *mut c_void;
type Create = unsafe extern "C" fn(*const c_char, *mut c_char) -> *mut c_void;
type SetInt = unsafe extern "C" fn(*mut c_void, c_int) -> c_int;
type Activate = unsafe extern "C" fn(*mut c_void) -> c_int;
type Compile = unsafe extern "C" fn(*mut c_void, *mut Program, *const c_char, c_int, u32) -> c_int;
type SetFilter = unsafe extern "C" fn(*mut c_void, *mut Program) -> c_int;
type GetErr = unsafe extern "C" fn(*mut c_void) -> *const c_char;
type OfflineFilter = unsafe extern "C" fn(*const Program, *const PktHdr, *const u8) -> c_int;
type NextEx = unsafe extern "C" fn(*mut c_void, *mut *const PktHdr, *mut *const u8) -> c_int;
type Datalink = unsafe extern "C" fn(*mut c_void) -> c_int;
type SetNonblock = unsafe extern "C" fn(*mut c_void, c_int, *mut c_char) -> c_int;
type SelectableFd = unsafe extern "C" fn(*mut c_void) -> c_int;
type Stats = unsafe extern "C" fn(*mut c_void, *mut Stat) -> c_int;
type FreeCode = unsafe extern "C" fn(*mut Program);
type Close = unsafe extern "C" fn(*mut c_void);

const NETMASK_UNKNOWN: u32 = 0xffff_ffff;
/// The largest frame kept whole. Less than tcpdump's 262144: in immediate
/// mode libpcap's ring holds one snap length per frame, so a smaller one
/// holds more frames in the same buffer (the IP header still tells the
/// length of a longer packet).
pub const SNAPLEN: c_int = 65_535;
const ERRBUF: usize = 256;
const PERM_DENIED: c_int = -8;
const NO_SUCH_DEVICE: c_int = -5;
const TSTAMP_NANO: c_int = 1;

/// The library, loaded once per user of it.
struct Lib(Library);

impl Lib {
    fn load() -> Result<Lib, LiveError> {
        // SAFETY: loading libpcap runs its initialisers, which have no
        // preconditions.
        ["libpcap.so.0.8", "libpcap.so.1", "libpcap.so"]
            .iter()
            .find_map(|n| unsafe { Library::new(*n) }.ok())
            .map(Lib)
            .ok_or(LiveError::NoLibpcap)
    }

    fn sym<T: Copy>(&self, name: &[u8]) -> Result<T, LiveError> {
        // SAFETY: each name is looked up with the signature pcap/pcap.h
        // gives it (the `type` aliases above).
        unsafe { self.0.get::<T>(name) }
            .map(|s| *s)
            .map_err(|e| LiveError::Libpcap(e.to_string()))
    }

    /// The handle's last error message.
    fn error(&self, p: *mut c_void) -> String {
        let Ok(geterr) = self.sym::<GetErr>(b"pcap_geterr\0") else {
            return "unknown error".into();
        };
        // SAFETY: pcap_geterr returns a NUL-terminated message owned by the
        // live handle `p`; it is copied at once.
        unsafe { CStr::from_ptr(geterr(p)).to_string_lossy().into_owned() }
    }

    /// Compile `expr` for handle `p`.
    fn compile(&self, p: *mut c_void, expr: &CStr) -> Result<Program, LiveError> {
        let compile: Compile = self.sym(b"pcap_compile\0")?;
        let mut prog = Program {
            len: 0,
            insns: std::ptr::null_mut(),
        };
        // SAFETY: `p` is a live handle; pcap_compile writes only `prog`.
        if unsafe { compile(p, &mut prog, expr.as_ptr(), 1, NETMASK_UNKNOWN) } != 0 {
            return Err(LiveError::Libpcap(self.error(p)));
        }
        Ok(prog)
    }

    fn free(&self, mut prog: Program) {
        if let Ok(free) = self.sym::<FreeCode>(b"pcap_freecode\0") {
            // SAFETY: `prog` came from pcap_compile and is freed once.
            unsafe { free(&mut prog) }
        }
    }

    fn close(&self, p: *mut c_void) {
        if let Ok(close) = self.sym::<Close>(b"pcap_close\0") {
            // SAFETY: `p` came from pcap_open_dead or pcap_create and is
            // closed once.
            unsafe { close(p) }
        }
    }
}

fn c_string(s: &str, what: &str) -> Result<CString, LiveError> {
    CString::new(s).map_err(|_| LiveError::Libpcap(format!("the {what} contains a NUL byte")))
}

/// The pcap file's link type as libpcap's DLT value (they differ for raw
/// IP: LINKTYPE_RAW 101 is DLT_RAW 12 on Linux).
fn dlt(linktype: i32) -> i32 {
    match linktype {
        101 => 12,
        other => other,
    }
}

/// A tcpdump filter expression run on frames read from a file, compiled
/// for each link type it meets.
pub struct Filter {
    lib: Lib,
    expr: CString,
    /// Per link type: the pcap handle and program, or why it did not compile.
    compiled: HashMap<i32, Result<(*mut c_void, Program), String>>,
}

impl Filter {
    /// Load libpcap and compile `expr` for Ethernet, so a mistake in it is
    /// reported before any file is read.
    pub fn new(expr: &str) -> Result<Filter, LiveError> {
        let mut f = Filter {
            lib: Lib::load()?,
            expr: c_string(expr, "filter")?,
            compiled: HashMap::new(),
        };
        // Its own error, not the cached words (which name libpcap already).
        let ethernet = f.compile(1)?;
        f.compiled.insert(1, Ok(ethernet));
        Ok(f)
    }

    /// The program for a link type, compiled the first time it is met.
    fn program(&mut self, linktype: i32) -> Result<*const Program, String> {
        if !self.compiled.contains_key(&linktype) {
            let c = self.compile(linktype).map_err(|e| e.to_string());
            self.compiled.insert(linktype, c);
        }
        match self.compiled.get(&linktype) {
            Some(Ok((_, p))) => Ok(p as *const Program),
            Some(Err(e)) => Err(e.clone()),
            None => Err("not compiled".into()),
        }
    }

    fn compile(&self, linktype: i32) -> Result<(*mut c_void, Program), LiveError> {
        let open: OpenDead = self.lib.sym(b"pcap_open_dead\0")?;
        // SAFETY: pcap_open_dead takes any link type and returns a handle
        // or NULL.
        let p = unsafe { open(dlt(linktype), SNAPLEN) };
        if p.is_null() {
            return Err(LiveError::Libpcap(format!("no link type {linktype}")));
        }
        match self.lib.compile(p, &self.expr) {
            Ok(prog) => Ok((p, prog)),
            Err(e) => {
                self.lib.close(p);
                Err(e)
            }
        }
    }

    /// Whether a frame of this link type passes, as tcpdump would decide
    /// (`wire_len` is its length on the wire). A link type the expression
    /// cannot be compiled for passes nothing; the error is returned, for a
    /// warning.
    pub fn keeps(&mut self, linktype: i32, data: &[u8], wire_len: u32) -> Result<bool, String> {
        let prog = self.program(linktype)?;
        let run: OfflineFilter = self
            .lib
            .sym(b"pcap_offline_filter\0")
            .map_err(|e| e.to_string())?;
        let hdr = PktHdr {
            ts: libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            caplen: u32::try_from(data.len()).unwrap_or(u32::MAX),
            len: wire_len,
        };
        // SAFETY: `prog` points into `self.compiled`, alive and unmoved for
        // this call; the header's caplen is the length of `data`.
        Ok(unsafe { run(prog, &hdr, data.as_ptr()) } != 0)
    }
}

impl Drop for Filter {
    fn drop(&mut self) {
        for (_, c) in self.compiled.drain() {
            if let Ok((p, prog)) = c {
                self.lib.free(prog);
                self.lib.close(p);
            }
        }
    }
}

/// One frame of a live capture, borrowed until the next read.
#[derive(Debug, Clone, Copy)]
pub struct LiveFrame<'a> {
    /// Nanoseconds since the Unix epoch (the kernel's time stamp).
    pub ts_ns: i64,
    pub data: &'a [u8],
    /// Its length on the wire (more than `data` when cut by the snap length).
    pub wire_len: u32,
}

/// Counters of the capture so far, from libpcap (`pcap_stats`).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct CaptureStats {
    pub received: u64,
    /// Dropped by the kernel because the buffer was full.
    pub dropped: u64,
    /// Dropped by the interface or its driver, when it says.
    pub interface_dropped: u64,
}

/// A live capture on one interface (`any` for all), with a filter, frames
/// handed over as soon as they arrive (immediate mode), nanosecond times.
pub struct Capture {
    lib: Lib,
    handle: *mut c_void,
    linktype: i32,
    /// The descriptor to wait on (libpcap's own reads never time out in
    /// immediate mode on Linux, so the handle is non-blocking and waits
    /// are ours).
    fd: c_int,
    wait_ms: i32,
}

impl Capture {
    /// Open `device` with the tcpdump filter `expr` ("" for every frame)
    /// and a kernel buffer of `buffer_mb` MB (a frame takes a snap length
    /// of it); a read waits at most `wait_ms` for a frame.
    pub fn open(
        device: &str,
        expr: &str,
        buffer_mb: i32,
        wait_ms: i32,
    ) -> Result<Capture, LiveError> {
        let lib = Lib::load()?;
        let (dev, expr) = (c_string(device, "interface")?, c_string(expr, "filter")?);
        let create: Create = lib.sym(b"pcap_create\0")?;
        let mut errbuf = [0 as c_char; ERRBUF];
        // SAFETY: pcap_create takes a NUL-terminated name and an error
        // buffer of PCAP_ERRBUF_SIZE (256) bytes, and returns a handle or NULL.
        let handle = unsafe { create(dev.as_ptr(), errbuf.as_mut_ptr()) };
        if handle.is_null() {
            // SAFETY: on failure pcap_create left a NUL-terminated message.
            let msg = unsafe { CStr::from_ptr(errbuf.as_ptr()) };
            return Err(LiveError::Libpcap(msg.to_string_lossy().into_owned()));
        }
        let mut c = Capture {
            lib,
            handle,
            linktype: 0,
            fd: -1,
            wait_ms: wait_ms.max(0),
        };
        c.activate(device, buffer_mb)?;
        c.nonblocking()?;
        c.filter(&expr)?;
        let datalink: Datalink = c.lib.sym(b"pcap_datalink\0")?;
        // SAFETY: the handle is active.
        c.linktype = unsafe { datalink(c.handle) };
        Ok(c)
    }

    /// From now on only frames that pass `expr` are captured (frames
    /// already buffered are not: [`Capture::discard`] drops them).
    pub fn set_filter(&mut self, expr: &str) -> Result<(), LiveError> {
        self.filter(&c_string(expr, "filter")?)
    }

    fn filter(&mut self, expr: &CStr) -> Result<(), LiveError> {
        let mut prog = self.lib.compile(self.handle, expr)?;
        let set: SetFilter = self.lib.sym(b"pcap_setfilter\0")?;
        // SAFETY: the handle is active; the program is copied into the
        // kernel (or libpcap) and may be freed after.
        let r = unsafe { set(self.handle, &mut prog) };
        self.lib.free(prog);
        if r != 0 {
            return Err(LiveError::Libpcap(self.lib.error(self.handle)));
        }
        Ok(())
    }

    /// Drop every frame buffered now.
    pub fn discard(&mut self) -> Result<(), LiveError> {
        let wait = std::mem::replace(&mut self.wait_ms, 0);
        while self.next_frame()?.is_some() {}
        self.wait_ms = wait;
        Ok(())
    }

    fn nonblocking(&mut self) -> Result<(), LiveError> {
        let set: SetNonblock = self.lib.sym(b"pcap_setnonblock\0")?;
        let fd: SelectableFd = self.lib.sym(b"pcap_get_selectable_fd\0")?;
        let mut errbuf = [0 as c_char; ERRBUF];
        // SAFETY: an active handle and an error buffer of PCAP_ERRBUF_SIZE.
        if unsafe { set(self.handle, 1, errbuf.as_mut_ptr()) } != 0 {
            return Err(LiveError::Libpcap(self.lib.error(self.handle)));
        }
        // SAFETY: an active handle.
        self.fd = unsafe { fd(self.handle) };
        Ok(())
    }

    fn activate(&mut self, device: &str, buffer_mb: i32) -> Result<(), LiveError> {
        for (name, value) in [
            (
                &b"pcap_set_buffer_size\0"[..],
                buffer_mb.clamp(1, 1024) << 20,
            ),
            (b"pcap_set_snaplen\0", SNAPLEN),
            (b"pcap_set_promisc\0", 0),
            (b"pcap_set_timeout\0", 1),
            (b"pcap_set_immediate_mode\0", 1),
            (b"pcap_set_tstamp_precision\0", TSTAMP_NANO),
        ] {
            let set: SetInt = self.lib.sym(name)?;
            // SAFETY: a setter on a handle not yet activated.
            unsafe { set(self.handle, value) };
        }
        let activate: Activate = self.lib.sym(b"pcap_activate\0")?;
        // SAFETY: the handle came from pcap_create and is activated once.
        let r = unsafe { activate(self.handle) };
        match r {
            r if r >= 0 => Ok(()),
            PERM_DENIED => Err(LiveError::Permission {
                device: device.to_string(),
                message: self.lib.error(self.handle),
            }),
            NO_SUCH_DEVICE => Err(LiveError::NoDevice(device.to_string())),
            _ => Err(LiveError::Libpcap(self.lib.error(self.handle))),
        }
    }

    /// The link type of the frames (LINKTYPE_ values as in pcap files, which
    /// are libpcap's DLT values on Linux except raw IP).
    pub fn linktype(&self) -> i32 {
        match self.linktype {
            12 => 101,
            other => other,
        }
    }

    /// The next frame, or `None` when none came within the wait.
    pub fn next_frame(&mut self) -> Result<Option<LiveFrame<'_>>, LiveError> {
        if !self.buffered()? && self.wait_ms > 0 {
            self.wait();
        }
        self.read()
    }

    /// Whether a frame waits in libpcap's ring (a non-blocking read that
    /// is then given back by the next `read`, which sees the same frame).
    fn buffered(&mut self) -> Result<bool, LiveError> {
        let mut p = libc::pollfd {
            fd: self.fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd, no wait.
        Ok(self.fd < 0 || unsafe { libc::poll(&mut p, 1, 0) } > 0)
    }

    /// Wait on the descriptor for at most the capture's wait.
    fn wait(&self) {
        let mut p = libc::pollfd {
            fd: self.fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd; an error or a signal only ends the wait early.
        unsafe { libc::poll(&mut p, 1, self.wait_ms) };
    }

    fn read(&mut self) -> Result<Option<LiveFrame<'_>>, LiveError> {
        let next: NextEx = self.lib.sym(b"pcap_next_ex\0")?;
        let mut hdr: *const PktHdr = std::ptr::null();
        let mut data: *const u8 = std::ptr::null();
        // SAFETY: on 1, pcap_next_ex points `hdr` and `data` at the frame,
        // valid until the next call on this handle (which needs `&mut
        // self`, so the borrow below cannot outlive it).
        let r = unsafe { next(self.handle, &mut hdr, &mut data) };
        match r {
            1 if !hdr.is_null() && !data.is_null() => {
                // SAFETY: as above; caplen is the length of `data`.
                let (h, bytes) = unsafe {
                    let h = &*hdr;
                    let len = usize::try_from(h.caplen).unwrap_or(0);
                    (h, std::slice::from_raw_parts(data, len))
                };
                // With nanosecond precision tv_usec holds nanoseconds.
                let ts_ns =
                    h.ts.tv_sec
                        .saturating_mul(1_000_000_000)
                        .saturating_add(h.ts.tv_usec);
                Ok(Some(LiveFrame {
                    ts_ns,
                    data: bytes,
                    wire_len: h.len,
                }))
            }
            0 | 1 => Ok(None),
            _ => Err(LiveError::Libpcap(self.lib.error(self.handle))),
        }
    }

    /// How long a read waits for a frame from now on (0: not at all).
    pub fn set_wait(&mut self, ms: i32) {
        self.wait_ms = ms.max(0);
    }

    /// What libpcap counted so far.
    pub fn stats(&self) -> CaptureStats {
        let Ok(stats) = self.lib.sym::<Stats>(b"pcap_stats\0") else {
            return CaptureStats::default();
        };
        let mut s = Stat::default();
        // SAFETY: the handle is active; pcap_stats writes only `s`.
        if unsafe { stats(self.handle, &mut s) } != 0 {
            return CaptureStats::default();
        }
        CaptureStats {
            received: u64::from(s.recv),
            dropped: u64::from(s.drop),
            interface_dropped: u64::from(s.ifdrop),
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.lib.close(self.handle);
    }
}
