//! Packs the lengths of a .npy file (1-D, little-endian int32 or int64) with
//! libseqpacker's OBFD strategy and prints the bins, one line each:
//!
//!     pack_lengths LENGTHS.npy CAPACITY
//!
//! Output: `bins N`, then `b: id id id ...` per bin. CI compares it with the
//! bins of the Python package on the same file.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use std::process::ExitCode;

const SP_OK: c_int = 0;
const SP_OBFD: c_int = 8;

extern "C" {
    fn sp_version_string() -> *const c_char;
    fn sp_status_string(status: c_int) -> *const c_char;
    fn sp_pack_bound(n: i64, size: *mut i64) -> c_int;
    fn sp_pack(
        lengths: *const i64,
        n: i64,
        capacity: i64,
        strategy: c_int,
        options: *const std::ffi::c_void,
        items: *mut i64,
        bin_offsets: *mut i64,
        bin_used: *mut i64,
        num_bins: *mut i64,
        error_index: *mut i64,
    ) -> c_int;
}

/// The lengths in a version 1 or 2 .npy file of little-endian int32 or int64.
fn read_npy(bytes: &[u8]) -> Result<Vec<i64>, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy file".into());
    }
    let (header_len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => {
            (u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize, 12)
        }
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let end = start.checked_add(header_len).filter(|&e| e <= bytes.len());
    let end = end.ok_or("truncated .npy header")?;
    let header = std::str::from_utf8(&bytes[start..end]).map_err(|e| e.to_string())?;
    if header.contains("'fortran_order': True") {
        return Err("Fortran-ordered arrays are not supported".into());
    }
    let width = if header.contains("'<i4'") {
        4
    } else if header.contains("'<i8'") {
        8
    } else {
        return Err(format!("dtype must be <i4 or <i8: {header}"));
    };
    let data = &bytes[end..];
    if data.len() % width != 0 {
        return Err("data is not a whole number of elements".into());
    }
    Ok(data
        .chunks_exact(width)
        .map(|c| match width {
            4 => i32::from_le_bytes(c.try_into().unwrap()) as i64,
            _ => i64::from_le_bytes(c.try_into().unwrap()),
        })
        .collect())
}

/// The library's English text for a status code.
fn status_text(status: c_int) -> String {
    unsafe { CStr::from_ptr(sp_status_string(status)) }.to_string_lossy().into_owned()
}

fn run(path: &str, capacity: i64) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let lengths = read_npy(&bytes).map_err(|e| format!("{path}: {e}"))?;
    let n = lengths.len() as i64;
    let mut bound = 0i64;
    let status = unsafe { sp_pack_bound(n, &mut bound) };
    if status != SP_OK {
        return Err(format!("sp_pack_bound: {}", status_text(status)));
    }
    let bound = bound as usize;
    let (mut items, mut offsets, mut used) = (vec![0i64; bound], vec![0i64; bound + 1], vec![0i64; bound]);
    let (mut num_bins, mut bad) = (0i64, 0i64);
    let status = unsafe {
        sp_pack(
            lengths.as_ptr(), n, capacity, SP_OBFD, std::ptr::null(), items.as_mut_ptr(),
            offsets.as_mut_ptr(), used.as_mut_ptr(), &mut num_bins, &mut bad,
        )
    };
    if status != SP_OK {
        return Err(format!("sp_pack: {} (index {bad})", status_text(status)));
    }
    let mut out = format!("bins {num_bins}\n");
    for b in 0..num_bins as usize {
        let ids: Vec<String> = items[offsets[b] as usize..offsets[b + 1] as usize]
            .iter()
            .map(|id| id.to_string())
            .collect();
        out.push_str(&format!("{b}: {}\n", ids.join(" ")));
    }
    Ok(out)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let capacity = args.get(2).and_then(|c| c.parse::<i64>().ok());
    let (Some(path), Some(capacity)) = (args.get(1), capacity) else {
        eprintln!("usage: pack_lengths LENGTHS.npy CAPACITY");
        return ExitCode::from(2);
    };
    let version = unsafe { CStr::from_ptr(sp_version_string()) }.to_string_lossy().into_owned();
    match run(path, capacity) {
        Ok(text) => {
            eprintln!("libseqpacker {version}");
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
