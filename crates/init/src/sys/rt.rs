//! The runtime of the static binary, built without `std` (see the
//! `microroot-init-blob` crate): the C `main`, a `malloc` allocator, the
//! panic handler and the C library link.
//!
//! Without `std` there is no backtrace printer and no dynamic-loader
//! machinery, which keeps the glibc-static binary well under a megabyte.

use alloc::string::String;
use alloc::vec::Vec;
use core::alloc::{GlobalAlloc, Layout};
use core::ffi::{c_char, c_int, CStr};

// libc's own link attributes are off when it is built as a normal crate;
// with `+crt-static` these resolve to the static archives.
#[link(name = "c")]
#[link(name = "gcc_eh")]
#[link(name = "gcc")]
unsafe extern "C" {}

/// glibc's `malloc` family; its alignment is 16 bytes on x86_64.
struct Malloc;

const MALLOC_ALIGN: usize = 16;

// SAFETY: malloc/free/realloc meet GlobalAlloc's contract for alignments up
// to MALLOC_ALIGN, and aligned_alloc for larger ones.
unsafe impl GlobalAlloc for Malloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: plain C allocation calls with a nonzero size.
        unsafe {
            if layout.align() <= MALLOC_ALIGN {
                libc::malloc(layout.size()).cast()
            } else {
                libc::aligned_alloc(layout.align(), layout.size().next_multiple_of(layout.align())).cast()
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from malloc or aligned_alloc.
        unsafe { libc::free(ptr.cast()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGN {
            // SAFETY: `ptr` came from malloc with this alignment.
            return unsafe { libc::realloc(ptr.cast(), new_size).cast() };
        }
        // SAFETY: the caller's contract; copy into a fresh aligned block.
        unsafe {
            let new = self.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

#[global_allocator]
static ALLOCATOR: Malloc = Malloc;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let line = alloc::format!("microroot-init: internal error: {info}\n");
    // SAFETY: write and abort need nothing but valid pointers.
    unsafe {
        libc::write(2, line.as_ptr().cast(), line.len());
        libc::abort()
    }
}

/// The precompiled `core` refers to the unwinding personality routine even
/// though this binary is built with `panic=abort` and never unwinds.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

#[unsafe(no_mangle)]
extern "C" fn main(argc: c_int, argv: *const *const c_char, envp: *const *const c_char) -> c_int {
    let mut args = Vec::new();
    for i in 0..usize::try_from(argc).unwrap_or(0) {
        // SAFETY: the C runtime passes argc valid NUL-terminated strings.
        args.push(lossy(unsafe { *argv.add(i) }));
    }
    let mut env = Vec::new();
    let mut i = 0;
    loop {
        // SAFETY: envp is a NULL-terminated array of C strings.
        let entry = unsafe { *envp.add(i) };
        if entry.is_null() {
            break;
        }
        let text = lossy(entry);
        if let Some((name, value)) = text.split_once('=') {
            env.push((String::from(name), String::from(value)));
        }
        i += 1;
    }
    crate::main(args, env)
}

fn lossy(ptr: *const c_char) -> String {
    // SAFETY: callers pass NUL-terminated strings from the C runtime.
    String::from_utf8_lossy(unsafe { CStr::from_ptr(ptr) }.to_bytes()).into_owned()
}
