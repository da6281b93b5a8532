//! tcpdump filter expressions (`analyze -F 'host 10.0.0.1 and port 443'`),
//! compiled by libpcap's own compiler without a live device and run on
//! each frame as tcpdump runs them, so an expression means here exactly
//! what it means to tcpdump. libpcap is loaded when a filter is given
//! (libpcap.so.0.8, which tcpdump and tshark install), so building synack
//! needs no C library. This file is the command's only unsafe code: six
//! libpcap calls, each with the types of pcap/pcap.h.

use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};

use libloading::Library;

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

type OpenDead = unsafe extern "C" fn(c_int, c_int) -> *mut c_void;
type Compile = unsafe extern "C" fn(*mut c_void, *mut Program, *const c_char, c_int, u32) -> c_int;
type GetErr = unsafe extern "C" fn(*mut c_void) -> *const c_char;
type OfflineFilter = unsafe extern "C" fn(*const Program, *const PktHdr, *const u8) -> c_int;
type FreeCode = unsafe extern "C" fn(*mut Program);
type Close = unsafe extern "C" fn(*mut c_void);

const NETMASK_UNKNOWN: u32 = 0xffff_ffff;
const SNAPLEN: c_int = 262_144;

/// The pcap file's link type as libpcap's DLT value (they differ for raw
/// IP: LINKTYPE_RAW 101 is DLT_RAW 12 on Linux).
fn dlt(linktype: i32) -> i32 {
    match linktype {
        101 => 12,
        other => other,
    }
}

/// One expression, compiled for each link type it meets.
pub struct Filter {
    lib: Library,
    expr: CString,
    /// Per link type: the pcap handle and program, or why it did not compile.
    compiled: HashMap<i32, Result<(*mut c_void, Program), String>>,
}

impl Filter {
    /// Load libpcap and compile `expr` for Ethernet, so a mistake in it is
    /// reported before any file is read.
    pub fn new(expr: &str) -> Result<Filter, String> {
        let expr = CString::new(expr).map_err(|_| "the filter contains a NUL byte".to_string())?;
        // SAFETY: loading libpcap runs its initialisers, which have no
        // preconditions.
        let lib = ["libpcap.so.0.8", "libpcap.so.1", "libpcap.so"]
            .iter()
            .find_map(|n| unsafe { Library::new(*n) }.ok())
            .ok_or_else(|| {
                "-F needs libpcap, which tcpdump and tshark use (Debian/Ubuntu: apt install libpcap0.8)"
                    .to_string()
            })?;
        let mut f = Filter {
            lib,
            expr,
            compiled: HashMap::new(),
        };
        f.program(1).map(|_| ())?;
        Ok(f)
    }

    fn sym<T: Copy>(&self, name: &[u8]) -> Result<T, String> {
        // SAFETY: each name is looked up with the signature pcap/pcap.h
        // gives it (the `type` aliases above).
        unsafe { self.lib.get::<T>(name) }
            .map(|s| *s)
            .map_err(|e| format!("libpcap: {e}"))
    }

    /// The program for a link type, compiled the first time it is met.
    fn program(&mut self, linktype: i32) -> Result<*const Program, String> {
        if !self.compiled.contains_key(&linktype) {
            let c = self.compile(linktype);
            self.compiled.insert(linktype, c);
        }
        match self.compiled.get(&linktype) {
            Some(Ok((_, p))) => Ok(p as *const Program),
            Some(Err(e)) => Err(e.clone()),
            None => Err("not compiled".into()),
        }
    }

    fn compile(&self, linktype: i32) -> Result<(*mut c_void, Program), String> {
        let open: OpenDead = self.sym(b"pcap_open_dead\0")?;
        let compile: Compile = self.sym(b"pcap_compile\0")?;
        let geterr: GetErr = self.sym(b"pcap_geterr\0")?;
        let close: Close = self.sym(b"pcap_close\0")?;
        // SAFETY: pcap_open_dead takes any link type and returns a handle
        // or NULL; pcap_compile writes the program into `prog` and, on
        // failure, leaves a NUL-terminated message that pcap_geterr returns
        // while the handle lives (it is copied before pcap_close).
        unsafe {
            let p = open(dlt(linktype), SNAPLEN);
            if p.is_null() {
                return Err(format!("libpcap has no link type {linktype}"));
            }
            let mut prog = Program {
                len: 0,
                insns: std::ptr::null_mut(),
            };
            if compile(p, &mut prog, self.expr.as_ptr(), 1, NETMASK_UNKNOWN) != 0 {
                let msg = CStr::from_ptr(geterr(p)).to_string_lossy().into_owned();
                close(p);
                return Err(msg);
            }
            Ok((p, prog))
        }
    }

    /// Whether a frame of this link type passes, as tcpdump would decide
    /// (`wire_len` is its length on the wire). A link type the expression
    /// cannot be compiled for passes nothing; the first such error is
    /// returned once, for a warning.
    pub fn keeps(&mut self, linktype: i32, data: &[u8], wire_len: u32) -> Result<bool, String> {
        let prog = self.program(linktype)?;
        let run: OfflineFilter = self.sym(b"pcap_offline_filter\0")?;
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
        let (Ok(free), Ok(close)) = (
            self.sym::<FreeCode>(b"pcap_freecode\0"),
            self.sym::<Close>(b"pcap_close\0"),
        ) else {
            return;
        };
        for (_, c) in self.compiled.drain() {
            if let Ok((p, mut prog)) = c {
                // SAFETY: each program and handle came from pcap_compile
                // and pcap_open_dead and is freed once, here.
                unsafe {
                    free(&mut prog);
                    close(p);
                }
            }
        }
    }
}
