//! The box's hardware ioctls behind safe wrappers — the one module of the workspace allowed
//! `unsafe` (listed in scripts/test's `allowed_unsafe`):
//! - the Linux watchdog API (`<linux/watchdog.h>`): `WDIOC_SETTIMEOUT`, `GETTIMEOUT`,
//!   `KEEPALIVE`, `GETBOOTSTATUS`, `GETSUPPORT`;
//! - SCSI generic `SG_IO` (`<scsi/sg.h>`, `sg_io_hdr` v3): one CDB, a data buffer in or out,
//!   the sense buffer back (SMART of SATA disks through ATA PASS-THROUGH);
//! - `NVME_IOCTL_ADMIN_CMD` (`<linux/nvme_ioctl.h>`): Get Log Page.
//!
//! Each call borrows its buffers for its whole duration, so the kernel never sees a pointer
//! that outlives its buffer; the structures are `#[repr(C)]` copies of the kernel's. A file
//! that is not such a device answers `ENOTTY` (a regular file, in tests).

#![allow(unsafe_code)]

use std::os::fd::AsFd;
use std::time::Duration;

use rustix::io::Errno;
use rustix::ioctl::{ioctl, opcode, Getter, Opcode, Updater};

/// `struct watchdog_info` of `<linux/watchdog.h>`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct RawWatchdogInfo {
    options: u32,
    firmware_version: u32,
    identity: [u8; 32],
}

const WDIOC_GETSUPPORT: Opcode = opcode::read::<RawWatchdogInfo>(b'W', 0);
const WDIOC_GETBOOTSTATUS: Opcode = opcode::read::<i32>(b'W', 2);
const WDIOC_KEEPALIVE: Opcode = opcode::read::<i32>(b'W', 5);
const WDIOC_SETTIMEOUT: Opcode = opcode::read_write::<i32>(b'W', 6);
const WDIOC_GETTIMEOUT: Opcode = opcode::read::<i32>(b'W', 7);

/// What a watchdog driver says it is (`WDIOC_GETSUPPORT`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchdogIdentity {
    /// e.g. `i6300ESB timer`.
    pub identity: String,
    /// `WDIOF_*` flags the driver supports.
    pub options: u32,
    pub firmware_version: u32,
}

/// `WDIOC_GETSUPPORT`.
pub fn watchdog_support(fd: impl AsFd) -> Result<WatchdogIdentity, Errno> {
    // SAFETY: WDIOC_GETSUPPORT writes one `struct watchdog_info`, which RawWatchdogInfo
    // mirrors (two u32 and 32 bytes).
    let info = unsafe { ioctl(fd, Getter::<WDIOC_GETSUPPORT, RawWatchdogInfo>::new())? };
    let end = info.identity.iter().position(|&b| b == 0).unwrap_or(info.identity.len());
    Ok(WatchdogIdentity {
        identity: String::from_utf8_lossy(&info.identity[..end]).into_owned(),
        options: info.options,
        firmware_version: info.firmware_version,
    })
}

/// `WDIOC_SETTIMEOUT`: asks for `secs`, returns the timeout the driver accepted (it may
/// round or clamp).
pub fn watchdog_set_timeout(fd: impl AsFd, secs: u32) -> Result<u32, Errno> {
    let mut v = i32::try_from(secs).map_err(|_| Errno::INVAL)?;
    // SAFETY: WDIOC_SETTIMEOUT reads and writes one int, `v` lives across the call.
    unsafe { ioctl(fd, Updater::<WDIOC_SETTIMEOUT, i32>::new(&mut v))? };
    u32::try_from(v).map_err(|_| Errno::INVAL)
}

/// `WDIOC_GETTIMEOUT`, in seconds.
pub fn watchdog_timeout(fd: impl AsFd) -> Result<u32, Errno> {
    // SAFETY: WDIOC_GETTIMEOUT writes one int.
    let v = unsafe { ioctl(fd, Getter::<WDIOC_GETTIMEOUT, i32>::new())? };
    u32::try_from(v).map_err(|_| Errno::INVAL)
}

/// `WDIOC_KEEPALIVE`.
pub fn watchdog_keepalive(fd: impl AsFd) -> Result<(), Errno> {
    // SAFETY: WDIOC_KEEPALIVE is declared _IOR(int); the kernel ignores the argument but
    // the Getter gives it a valid int to point at.
    unsafe { ioctl(fd, Getter::<WDIOC_KEEPALIVE, i32>::new())? };
    Ok(())
}

/// `WDIOC_GETBOOTSTATUS`: the `WDIOF_*` flags of the last reboot (`WDIOF_CARDRESET` = the
/// watchdog reset the box).
pub fn watchdog_boot_status(fd: impl AsFd) -> Result<u32, Errno> {
    // SAFETY: WDIOC_GETBOOTSTATUS writes one int.
    let v = unsafe { ioctl(fd, Getter::<WDIOC_GETBOOTSTATUS, i32>::new())? };
    Ok(v as u32)
}

/// `SG_IO` of `<scsi/sg.h>` (not an `_IOC` number).
const SG_IO: Opcode = 0x2285;
const SG_DXFER_NONE: i32 = -1;
const SG_DXFER_TO_DEV: i32 = -2;
const SG_DXFER_FROM_DEV: i32 = -3;

/// `struct sg_io_hdr` (interface `'S'`).
#[repr(C)]
struct SgIoHdr {
    interface_id: i32,
    dxfer_direction: i32,
    cmd_len: u8,
    mx_sb_len: u8,
    iovec_count: u16,
    dxfer_len: u32,
    dxferp: *mut core::ffi::c_void,
    cmdp: *const u8,
    sbp: *mut u8,
    timeout: u32,
    flags: u32,
    pack_id: i32,
    usr_ptr: *mut core::ffi::c_void,
    status: u8,
    masked_status: u8,
    msg_status: u8,
    sb_len_wr: u8,
    host_status: u16,
    driver_status: u16,
    resid: i32,
    duration: u32,
    info: u32,
}

/// The data phase of one SCSI command.
#[derive(Debug)]
pub enum SgData<'a> {
    None,
    /// Device to host (e.g. SMART READ DATA).
    In(&'a mut [u8]),
    /// Host to device.
    Out(&'a [u8]),
}

/// What came back from one `SG_IO`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SgResult {
    /// SCSI status (0 GOOD, 2 CHECK CONDITION).
    pub status: u8,
    pub host_status: u16,
    pub driver_status: u16,
    /// The sense bytes the device wrote (empty if none).
    pub sense: Vec<u8>,
    /// Bytes of the data buffer not transferred.
    pub resid: i32,
}

/// One SCSI command through `SG_IO` on an `sd`/`sg` device.
pub fn sg_io(fd: impl AsFd, cdb: &[u8], data: SgData<'_>, timeout: Duration) -> Result<SgResult, Errno> {
    let cmd_len = u8::try_from(cdb.len()).map_err(|_| Errno::INVAL)?;
    let mut sense = [0u8; 64];
    let (dir, ptr, len): (i32, *mut core::ffi::c_void, usize) = match data {
        SgData::None => (SG_DXFER_NONE, core::ptr::null_mut(), 0),
        SgData::In(b) => (SG_DXFER_FROM_DEV, b.as_mut_ptr().cast(), b.len()),
        // The kernel only reads a TO_DEV buffer.
        SgData::Out(b) => (SG_DXFER_TO_DEV, b.as_ptr().cast_mut().cast(), b.len()),
    };
    let mut hdr = SgIoHdr {
        interface_id: i32::from(b'S'),
        dxfer_direction: dir,
        cmd_len,
        mx_sb_len: sense.len() as u8,
        iovec_count: 0,
        dxfer_len: u32::try_from(len).map_err(|_| Errno::INVAL)?,
        dxferp: ptr,
        cmdp: cdb.as_ptr(),
        sbp: sense.as_mut_ptr(),
        timeout: u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX),
        flags: 0,
        pack_id: 0,
        usr_ptr: core::ptr::null_mut(),
        status: 0,
        masked_status: 0,
        msg_status: 0,
        sb_len_wr: 0,
        host_status: 0,
        driver_status: 0,
        resid: 0,
        duration: 0,
        info: 0,
    };
    // SAFETY: `hdr` mirrors `struct sg_io_hdr`; its CDB, data and sense pointers point into
    // `cdb`, the caller's buffer and `sense`, all borrowed until the ioctl returns (SG_IO is
    // synchronous), with the lengths given in `cmd_len`, `dxfer_len` and `mx_sb_len`.
    unsafe { ioctl(fd, Updater::<SG_IO, SgIoHdr>::new(&mut hdr))? };
    let n = usize::from(hdr.sb_len_wr).min(sense.len());
    Ok(SgResult {
        status: hdr.status,
        host_status: hdr.host_status,
        driver_status: hdr.driver_status,
        sense: sense[..n].to_vec(),
        resid: hdr.resid,
    })
}

/// `struct nvme_passthru_cmd` (= `nvme_admin_cmd`) of `<linux/nvme_ioctl.h>`.
#[repr(C)]
#[derive(Default)]
struct NvmePassthruCmd {
    opcode: u8,
    flags: u8,
    rsvd1: u16,
    nsid: u32,
    cdw2: u32,
    cdw3: u32,
    metadata: u64,
    addr: u64,
    metadata_len: u32,
    data_len: u32,
    cdw10: u32,
    cdw11: u32,
    cdw12: u32,
    cdw13: u32,
    cdw14: u32,
    cdw15: u32,
    timeout_ms: u32,
    result: u32,
}

const NVME_IOCTL_ADMIN_CMD: Opcode = opcode::read_write::<NvmePassthruCmd>(b'N', 0x41);
const NVME_ADMIN_GET_LOG_PAGE: u8 = 0x02;

/// Get Log Page (admin opcode 0x02) for `log_id` of namespace `nsid` (0xFFFF_FFFF: the
/// controller), filling `buf` (a multiple of 4 bytes). Returns the NVMe status field
/// (0 = success).
pub fn nvme_get_log_page(fd: impl AsFd, nsid: u32, log_id: u8, buf: &mut [u8]) -> Result<u32, Errno> {
    if buf.is_empty() || !buf.len().is_multiple_of(4) {
        return Err(Errno::INVAL);
    }
    let numd = u32::try_from(buf.len() / 4 - 1).map_err(|_| Errno::INVAL)?;
    let mut cmd = NvmePassthruCmd {
        opcode: NVME_ADMIN_GET_LOG_PAGE,
        nsid,
        addr: buf.as_mut_ptr() as u64,
        data_len: u32::try_from(buf.len()).map_err(|_| Errno::INVAL)?,
        // NUMDL (bits 31:16) and the log page identifier; NUMDU (cdw11) for the upper bits.
        cdw10: ((numd & 0xffff) << 16) | u32::from(log_id),
        cdw11: numd >> 16,
        timeout_ms: 10_000,
        ..NvmePassthruCmd::default()
    };
    // SAFETY: `cmd` mirrors `struct nvme_passthru_cmd`; `addr`/`data_len` describe `buf`,
    // borrowed mutably until the synchronous ioctl returns.
    let status = unsafe { ioctl(fd, NvmeAdmin(&mut cmd))? };
    Ok(status)
}

/// `NVME_IOCTL_ADMIN_CMD` keeping the ioctl's return value: the NVMe status field (> 0
/// when the controller refused the command), which rustix's `Updater` drops.
struct NvmeAdmin<'a>(&'a mut NvmePassthruCmd);

// SAFETY: the opcode is NVME_IOCTL_ADMIN_CMD and the pointer is to a live
// `nvme_passthru_cmd`, which the kernel reads and writes (IS_MUTATING).
unsafe impl rustix::ioctl::Ioctl for NvmeAdmin<'_> {
    type Output = u32;
    const IS_MUTATING: bool = true;

    fn opcode(&self) -> Opcode {
        NVME_IOCTL_ADMIN_CMD
    }

    fn as_ptr(&mut self) -> *mut core::ffi::c_void {
        (self.0 as *mut NvmePassthruCmd).cast()
    }

    unsafe fn output_from_ptr(out: rustix::ioctl::IoctlOutput, _: *mut core::ffi::c_void) -> rustix::io::Result<u32> {
        Ok(out as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structures_and_opcodes_match_the_kernel() {
        assert_eq!(core::mem::size_of::<RawWatchdogInfo>(), 40);
        assert_eq!(core::mem::size_of::<NvmePassthruCmd>(), 72);
        #[cfg(target_pointer_width = "64")]
        assert_eq!(core::mem::size_of::<SgIoHdr>(), 88);
        // Values from <linux/watchdog.h> and <linux/nvme_ioctl.h> on x86_64 and arm64.
        assert_eq!(WDIOC_GETSUPPORT as u64, 0x8028_5700);
        assert_eq!(WDIOC_KEEPALIVE as u64, 0x8004_5705);
        assert_eq!(WDIOC_SETTIMEOUT as u64, 0xc004_5706);
        assert_eq!(WDIOC_GETTIMEOUT as u64, 0x8004_5707);
        assert_eq!(WDIOC_GETBOOTSTATUS as u64, 0x8004_5702);
        assert_eq!(NVME_IOCTL_ADMIN_CMD as u64, 0xc048_4e41);
    }

    #[test]
    fn a_regular_file_answers_enotty() {
        let f = tempfile::tempfile().unwrap();
        assert_eq!(watchdog_keepalive(&f), Err(Errno::NOTTY));
        assert_eq!(watchdog_set_timeout(&f, 30), Err(Errno::NOTTY));
        assert_eq!(watchdog_boot_status(&f), Err(Errno::NOTTY));
        assert_eq!(watchdog_support(&f).map(|_| ()), Err(Errno::NOTTY));
        let mut buf = [0u8; 512];
        let cdb = [0u8; 16];
        assert_eq!(sg_io(&f, &cdb, SgData::In(&mut buf), Duration::from_secs(1)).map(|_| ()), Err(Errno::NOTTY));
        assert_eq!(nvme_get_log_page(&f, u32::MAX, 2, &mut buf), Err(Errno::NOTTY));
        assert_eq!(nvme_get_log_page(&f, u32::MAX, 2, &mut buf[..3]), Err(Errno::INVAL));
    }
}
