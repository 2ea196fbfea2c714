//! The Windows side of [`crate::platform`], through std's Windows
//! extensions and `windows-sys`.
//!
//! - Privacy is a file's owner and its DACL (discretionary access control
//!   list), as ssh has it on Windows: credbox creates its directories with
//!   a protected DACL that grants the current user alone full control
//!   (files inherit it, and credbox sets it on each file it creates too),
//!   and on use refuses a path owned by another SID, or whose DACL lets
//!   anyone but the user, SYSTEM and the Administrators group read or
//!   write it.
//! - Opens never wait: device names (`CON`, `NUL`, `COM1`, `\\.\pipe\…`,
//!   `\\?\` device paths) are refused before any open; a named pipe with
//!   no server fails at once instead of blocking, as a FIFO would.
//! - A lock cannot pass from a process to its child (a byte-range lock
//!   belongs to the process that took it), so the refresh child takes the
//!   entry's lock itself ([`LOCK_PASSES_TO_CHILD`]).
//! - A process's lifetime is bounded by a thread that terminates it.

use std::ffi::{OsStr, OsString, c_void};
use std::fmt;
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::windows::ffi::{OsStrExt, OsStringExt};
use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
use std::os::windows::io::AsRawHandle;
use std::os::windows::process::CommandExt;
use std::path::{Component, Path, Prefix};
use std::process::{Child, Command};
use std::ptr;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_ACCESS_DENIED, ERROR_SUCCESS, HANDLE, LocalFree, STILL_ACTIVE,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW,
    GetNamedSecurityInfoW, SDDL_REVISION_1, SE_FILE_OBJECT, SetSecurityInfo,
};
use windows_sys::Win32::Security::{
    ACCESS_ALLOWED_ACE, ACE_HEADER, ACL, DACL_SECURITY_INFORMATION, EqualSid, GetAce,
    GetSecurityDescriptorDacl, GetTokenInformation, INHERIT_ONLY_ACE, IsWellKnownSid,
    OWNER_SECURITY_INFORMATION, PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID,
    SECURITY_ATTRIBUTES, TOKEN_QUERY, TOKEN_USER, TokenUser, WELL_KNOWN_SID_TYPE,
    WinAuthenticatedUserSid, WinBuiltinAdministratorsSid, WinBuiltinUsersSid, WinLocalSystemSid,
    WinWorldSid,
};
use windows_sys::Win32::Storage::FileSystem::{
    BY_HANDLE_FILE_INFORMATION, CreateDirectoryW, DELETE, FILE_APPEND_DATA,
    FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT, FILE_READ_DATA, FILE_WRITE_DATA,
    GetFileInformationByHandle, READ_CONTROL, WRITE_DAC, WRITE_OWNER,
};
use windows_sys::Win32::System::Threading::{
    CREATE_NEW_PROCESS_GROUP, DETACHED_PROCESS, GetCurrentProcess, GetExitCodeProcess, OpenProcess,
    OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION, TerminateProcess,
};

use super::{Exposure, Owners};

/// Whether a lock held by a process passes to the child it starts. On
/// Windows it does not: the refresh child takes the entry's lock itself,
/// once its caller has let go (see [`spawn_detached`]).
pub const LOCK_PASSES_TO_CHILD: bool = false;

/// The most bytes one OS keystore item holds: a Credential Manager
/// credential's blob is at most `CRED_MAX_CREDENTIAL_BLOB_SIZE` (5 × 512
/// bytes), and longer values are kept in parts (`state/split.rs`).
pub const KEYSTORE_ITEM_MAX: Option<usize> = Some(2560);

/// Whether the user's directories come from `$HOME`: not on Windows,
/// where they are the profile's known folders (`%LOCALAPPDATA%`) and
/// `HOME` is usually unset.
pub const HOME_REQUIRED: bool = false;

/// What the OS calls a file's access settings in credbox's messages
/// ("its access is Everyone:R, not owner only").
pub const ACCESS_NOUN: &str = "access";

/// What identifies a file's content without reading it: size, and
/// creation and last-write times (100 ns ticks). Windows' std gives no
/// stable file index from a path's metadata, so the creation time stands
/// for the file's identity: a file renamed over it has its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStamp {
    size: u64,
    created: u64,
    written: u64,
}

impl FileStamp {
    /// The stamp of the file `meta` describes.
    pub fn of(meta: &Metadata) -> FileStamp {
        FileStamp {
            size: meta.file_size(),
            created: meta.creation_time(),
            written: meta.last_write_time(),
        }
    }

    /// When the file's content last changed: its last-write time (Windows
    /// has no status-change time in std). `None` before 1970.
    pub fn changed(&self) -> Option<SystemTime> {
        // FILETIME counts 100 ns from 1601-01-01.
        const UNIX_EPOCH_TICKS: u64 = 116_444_736_000_000_000;
        let ticks = self.written.checked_sub(UNIX_EPOCH_TICKS)?;
        Some(UNIX_EPOCH + Duration::from_nanos(ticks.saturating_mul(100)))
    }
}

impl fmt::Display for FileStamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.size, self.created, self.written)
    }
}

/// The volume serial number and file index of an open file: its identity.
fn file_id(file: &File) -> io::Result<(u32, u32, u32)> {
    let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: the handle is open for the call; `info` is writable.
    if unsafe { GetFileInformationByHandle(file.as_raw_handle() as HANDLE, &mut info) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((
        info.dwVolumeSerialNumber,
        info.nFileIndexHigh,
        info.nFileIndexLow,
    ))
}

/// Whether the open file `held` is the file now at `named` (not a link to
/// it; not only equal contents).
pub fn same_file(held: &File, named: &Path) -> bool {
    let Ok(other) = OpenOptions::new()
        .access_mode(0)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS)
        .open(named)
    else {
        return false;
    };
    matches!((file_id(held), file_id(&other)), (Ok(a), Ok(b)) if a == b)
}

/// A wide, NUL-terminated copy of `s` for the Windows API.
fn wide(s: &OsStr) -> Vec<u16> {
    s.encode_wide().chain(Some(0)).collect()
}

/// Memory the Windows API allocated with `LocalAlloc`, freed on drop.
struct Local(*mut c_void);

impl Drop for Local {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: allocated by the API call that filled it.
            unsafe { LocalFree(self.0) };
        }
    }
}

/// The current user's SID, as a string (`S-1-5-21-…`) and as bytes.
struct Me {
    sid: Vec<u8>,
    text: String,
}

/// The current process's user, looked up once.
fn me() -> io::Result<&'static Me> {
    static ME: OnceLock<Result<Me, i32>> = OnceLock::new();
    let me = ME.get_or_init(|| {
        let mut token: HANDLE = ptr::null_mut();
        // SAFETY: the pseudo-handle of this process needs no closing;
        // `token` is writable.
        if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
            return Err(last_error());
        }
        let mut buffer = vec![0u64; 64];
        let mut len = 0u32;
        // SAFETY: the buffer is 512 bytes, 8-aligned, as its length says.
        let ok = unsafe {
            GetTokenInformation(
                token,
                TokenUser,
                buffer.as_mut_ptr().cast(),
                (buffer.len() * 8) as u32,
                &mut len,
            )
        };
        let error = last_error();
        // SAFETY: opened above.
        unsafe { CloseHandle(token) };
        if ok == 0 {
            return Err(error);
        }
        // SAFETY: filled by GetTokenInformation as a TOKEN_USER.
        let sid = unsafe { (*buffer.as_ptr().cast::<TOKEN_USER>()).User.Sid };
        Ok(Me {
            sid: sid_bytes(sid),
            text: sid_text(sid),
        })
    });
    me.as_ref()
        .map_err(|&code| io::Error::from_raw_os_error(code))
}

fn last_error() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The bytes of a valid SID.
fn sid_bytes(sid: PSID) -> Vec<u8> {
    // SAFETY: a SID is 8 bytes of header then 4 per sub-authority, whose
    // count is its second byte.
    unsafe {
        let count = usize::from(*sid.cast::<u8>().add(1));
        std::slice::from_raw_parts(sid.cast::<u8>(), 8 + 4 * count).to_vec()
    }
}

/// A SID as `S-1-…`.
fn sid_text(sid: PSID) -> String {
    let mut text: *mut u16 = ptr::null_mut();
    // SAFETY: `sid` is valid; the string is freed by `Local`.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 {
        return "an unknown SID".into();
    }
    let _free = Local(text.cast());
    // SAFETY: a NUL-terminated string from the call above.
    let len = (0..).take_while(|&i| unsafe { *text.add(i) } != 0).count();
    let chars = unsafe { std::slice::from_raw_parts(text, len) };
    OsString::from_wide(chars).to_string_lossy().into_owned()
}

fn is_sid(sid: PSID, kind: WELL_KNOWN_SID_TYPE) -> bool {
    // SAFETY: `sid` is valid.
    unsafe { IsWellKnownSid(sid, kind) != 0 }
}

fn is_me(sid: PSID, me: &Me) -> bool {
    let mut mine = me.sid.clone();
    // SAFETY: both are valid SIDs.
    unsafe { EqualSid(sid, mine.as_mut_ptr().cast()) != 0 }
}

/// SYSTEM or the Administrators group: who may always read a user's
/// files on Windows, and whom ssh accepts on a private key.
fn is_admin(sid: PSID) -> bool {
    is_sid(sid, WinLocalSystemSid) || is_sid(sid, WinBuiltinAdministratorsSid)
}

/// A person's name for a SID that is not the user's.
fn sid_name(sid: PSID) -> String {
    let known = [
        (WinWorldSid, "Everyone"),
        (WinAuthenticatedUserSid, "Authenticated Users"),
        (WinBuiltinUsersSid, "Users"),
    ];
    known
        .iter()
        .find(|(kind, _)| is_sid(sid, *kind))
        .map_or_else(|| sid_text(sid), |(_, name)| (*name).to_owned())
}

/// A path's owner and DACL, freed on drop.
struct Security {
    owner: PSID,
    dacl: *mut ACL,
    _descriptor: Local,
}

fn security_of(path: &Path) -> io::Result<Security> {
    let name = wide(path.as_os_str());
    let (mut owner, mut dacl, mut descriptor) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    // SAFETY: `name` is NUL-terminated; the out-pointers are writable; the
    // descriptor they point into is freed by `Local`.
    let code = unsafe {
        GetNamedSecurityInfoW(
            name.as_ptr(),
            SE_FILE_OBJECT,
            OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
            &mut owner,
            ptr::null_mut(),
            &mut dacl,
            ptr::null_mut(),
            &mut descriptor,
        )
    };
    if code != ERROR_SUCCESS {
        return Err(io::Error::from_raw_os_error(code as i32));
    }
    Ok(Security {
        owner,
        dacl,
        _descriptor: Local(descriptor),
    })
}

/// The rights that expose a file's content or control: read, write,
/// append, delete, change its DACL or owner (reading its attributes or
/// its DACL exposes nothing secret).
const SIGNIFICANT: u32 = FILE_READ_DATA
    | FILE_WRITE_DATA
    | FILE_APPEND_DATA
    | DELETE
    | WRITE_DAC
    | WRITE_OWNER
    | 0xF000_0000; // GENERIC_ALL, _EXECUTE, _WRITE, _READ

/// `R`, `W` or `RW`: what `mask` lets its holder do with the content.
fn rights(mask: u32) -> &'static str {
    const GENERIC_ALL: u32 = 0x1000_0000;
    const GENERIC_WRITE: u32 = 0x4000_0000;
    const GENERIC_READ: u32 = 0x8000_0000;
    let read = mask & (FILE_READ_DATA | GENERIC_READ | GENERIC_ALL) != 0;
    let write = mask & !(FILE_READ_DATA | GENERIC_READ | READ_CONTROL) & SIGNIFICANT != 0
        || mask & (GENERIC_WRITE | GENERIC_ALL) != 0;
    match (read, write) {
        (true, true) => "RW",
        (false, true) => "W",
        _ => "R",
    }
}

/// The others the DACL `dacl` grants significant rights to, as
/// `Everyone:R`; empty when only the user, SYSTEM and Administrators may.
fn others_granted(dacl: *mut ACL, me: &Me) -> Vec<String> {
    if dacl.is_null() {
        return vec!["Everyone:RW (no DACL)".into()];
    }
    let mut granted = Vec::new();
    // SAFETY: `dacl` is a valid ACL from GetNamedSecurityInfoW.
    let count = u32::from(unsafe { (*dacl).AceCount });
    for index in 0..count {
        let mut ace: *mut c_void = ptr::null_mut();
        // SAFETY: `index` is below the ACE count.
        if unsafe { GetAce(dacl, index, &mut ace) } == 0 {
            continue;
        }
        // SAFETY: every ACE starts with its header.
        let header = unsafe { &*ace.cast::<ACE_HEADER>() };
        // Only access-allowed ACEs grant; inherit-only ones do not apply
        // to this object.
        if header.AceType != 0 || u32::from(header.AceFlags) & INHERIT_ONLY_ACE != 0 {
            continue;
        }
        // SAFETY: an ACCESS_ALLOWED_ACE, its SID at SidStart.
        let allowed = unsafe { &*ace.cast::<ACCESS_ALLOWED_ACE>() };
        let sid: PSID = ptr::addr_of!(allowed.SidStart).cast_mut().cast();
        if allowed.Mask & SIGNIFICANT == 0 || is_me(sid, me) || is_admin(sid) {
            continue;
        }
        granted.push(format!("{}:{}", sid_name(sid), rights(allowed.Mask)));
    }
    granted
}

/// How the file or directory at `path` (which `meta` describes) is open
/// to others than the current user: owned by another SID, or with a DACL
/// that lets anyone but the user, SYSTEM and Administrators read or
/// write it. `None` when it is private. A path whose security cannot be
/// read counts as open.
pub fn exposure(path: &Path, meta: &Metadata, owners: Owners) -> Option<Exposure> {
    let private = if meta.is_dir() {
        "owner only (icacls /inheritance:r)"
    } else {
        "owner only"
    };
    let unknown = |e: io::Error| Exposure::OpenToOthers {
        access: format!("unknown ({e})"),
        private: private.to_owned(),
    };
    let me = match me() {
        Ok(me) => me,
        Err(e) => return Some(unknown(e)),
    };
    let security = match security_of(path) {
        Ok(security) => security,
        Err(e) => return Some(unknown(e)),
    };
    let owner_ok =
        is_me(security.owner, me) || (owners == Owners::MeOrAdmin && is_admin(security.owner));
    if !owner_ok {
        return Some(Exposure::OtherOwner {
            owner: sid_name(security.owner),
            me: me.text.clone(),
        });
    }
    let others = others_granted(security.dacl, me);
    if !others.is_empty() {
        return Some(Exposure::OpenToOthers {
            access: others.join(", "),
            private: private.to_owned(),
        });
    }
    None
}

/// The command that makes `path` private to its owner (for a hint).
pub fn restrict_command(path: &Path, dir: bool) -> String {
    let grant = if dir { "(OI)(CI)F" } else { "F" };
    format!(
        "icacls \"{}\" /inheritance:r /grant:r \"%USERNAME%:{grant}\"",
        path.display()
    )
}

/// A security descriptor whose protected DACL grants the current user
/// alone full control, inherited by what is created inside.
fn private_descriptor() -> io::Result<Local> {
    let me = me()?;
    let sddl = wide(OsStr::new(&format!("D:P(A;OICI;FA;;;{})", me.text)));
    let mut descriptor: PSECURITY_DESCRIPTOR = ptr::null_mut();
    // SAFETY: `sddl` is NUL-terminated; the descriptor is freed by `Local`.
    let ok = unsafe {
        ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl.as_ptr(),
            SDDL_REVISION_1,
            &mut descriptor,
            ptr::null_mut(),
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Local(descriptor))
}

/// Creates the directory `path` and any missing parents, each with a
/// protected DACL that grants the current user alone full control.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent)?;
    }
    let descriptor = private_descriptor()?;
    let attributes = SECURITY_ATTRIBUTES {
        nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: descriptor.0,
        bInheritHandle: 0,
    };
    let name = wide(path.as_os_str());
    // SAFETY: `name` is NUL-terminated; `attributes` lives for the call.
    if unsafe { CreateDirectoryW(name.as_ptr(), &attributes) } == 0 {
        let e = io::Error::last_os_error();
        if !(e.kind() == io::ErrorKind::AlreadyExists && path.is_dir()) {
            return Err(e);
        }
    }
    Ok(())
}

/// Gives the open file `file` (opened with `WRITE_DAC`) a protected DACL
/// that grants the current user alone full control.
fn make_private(file: &File) -> io::Result<()> {
    let descriptor = private_descriptor()?;
    let (mut present, mut defaulted, mut dacl) = (0, 0, ptr::null_mut());
    // SAFETY: a valid descriptor; the out-pointers are writable.
    if unsafe { GetSecurityDescriptorDacl(descriptor.0, &mut present, &mut dacl, &mut defaulted) }
        == 0
    {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the handle is open with WRITE_DAC; `dacl` lives in
    // `descriptor` for the call.
    let code = unsafe {
        SetSecurityInfo(
            file.as_raw_handle() as HANDLE,
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            ptr::null_mut(),
            ptr::null_mut(),
            dacl,
            ptr::null(),
        )
    };
    if code != ERROR_SUCCESS {
        return Err(io::Error::from_raw_os_error(code as i32));
    }
    Ok(())
}

/// Creates the new file `path` (an error if anything is there), private
/// to the current user: a protected owner-only DACL.
pub fn create_private_file(path: &Path) -> io::Result<File> {
    refuse_device(path)?;
    const GENERIC_WRITE: u32 = 0x4000_0000;
    // `write` for std's check that a create may write; the access itself
    // is `access_mode`'s.
    let file = OpenOptions::new()
        .write(true)
        .access_mode(GENERIC_WRITE | WRITE_DAC | READ_CONTROL)
        .create_new(true)
        .open(path)?;
    if let Err(e) = make_private(&file) {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(file)
}

/// The DOS device names, reserved in every directory (`NUL`, `nul.txt`
/// and `C:\x\CON` all open the device).
const DEVICES: [&str; 8] = [
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$", "CONFIG$",
];

/// Whether `name` (a last path component) names a DOS device.
fn is_device_name(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    // The device name is what precedes the first dot or colon, trailing
    // spaces ignored.
    let stem = name.split(['.', ':']).next().unwrap_or("").trim_end();
    let upper = stem.to_ascii_uppercase();
    if DEVICES.contains(&upper.as_str()) {
        return true;
    }
    // COM1-9, LPT1-9 (and the superscript digits Windows also takes).
    let mut chars = upper.chars();
    let head: String = chars.by_ref().take(3).collect();
    let digit: Vec<char> = chars.collect();
    (head == "COM" || head == "LPT")
        && matches!(digit.as_slice(), [d] if ('1'..='9').contains(d) || "¹²³".contains(*d))
}

/// Refuses a path that names a device rather than a file: a DOS device
/// name as its last component, or a `\\.\` or `\\?\` device path (a
/// `\\?\C:\…` or `\\?\UNC\…` path to a file is fine).
fn refuse_device(path: &Path) -> io::Result<()> {
    let device = match path.components().next() {
        Some(Component::Prefix(prefix)) => match prefix.kind() {
            Prefix::DeviceNS(_) => true,
            Prefix::Verbatim(name) => !name.eq_ignore_ascii_case("UNC"),
            _ => false,
        },
        _ => false,
    } || path.file_name().is_some_and(is_device_name);
    if device {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names a Windows device, not a file", path.display()),
        ));
    }
    Ok(())
}

/// Opens `path` for reading without ever waiting: a device name is
/// refused before any open; a directory opens (to be refused as one by
/// the caller); without `follow`, a symbolic link as the last component
/// opens as the link itself (the caller refuses it as not a regular
/// file).
pub fn open_regular_nonblocking(path: &Path, follow: bool) -> io::Result<File> {
    refuse_device(path)?;
    let mut flags = FILE_FLAG_BACKUP_SEMANTICS;
    if !follow {
        flags |= FILE_FLAG_OPEN_REPARSE_POINT;
    }
    OpenOptions::new().read(true).custom_flags(flags).open(path)
}

/// A person's name for a kind of file that is neither a regular file, a
/// directory nor a symbolic link: Windows' std names no other kind.
pub fn special_kind(_kind: &std::fs::FileType) -> Option<&'static str> {
    None
}

/// Whether an open without following links failed because the path is a
/// symbolic link: never on Windows, where such an open opens the link.
pub fn is_refused_link(_e: &io::Error) -> bool {
    false
}

/// Opens (creating it private if needed) the lock file `path`, without
/// following a link, refusing a device name. The caller checks that it
/// is a regular file.
pub fn open_lock_file(path: &Path) -> io::Result<File> {
    refuse_device(path)?;
    match create_private_file(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        other => return other,
    }
    OpenOptions::new()
        .write(true)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
}

/// Whether a process `pid` exists and has not exited.
pub fn process_exists(pid: u32) -> bool {
    // SAFETY: OpenProcess has no preconditions; the handle is closed.
    unsafe {
        let handle = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
        if handle.is_null() {
            return io::Error::last_os_error().raw_os_error() == Some(ERROR_ACCESS_DENIED as i32);
        }
        let mut code = 0u32;
        let running = GetExitCodeProcess(handle, &mut code) == 0 || code == STILL_ACTIVE as u32;
        CloseHandle(handle);
        running
    }
}

/// Starts `command` detached from its caller: no console
/// (`DETACHED_PROCESS`), in a process group of its own (a Ctrl-C to the
/// caller's does not reach it), inheriting no handle but its standard
/// ones (std passes only those). The lock `_inherit` is not passed on:
/// Windows keeps a lock with the process that took it, so the child
/// takes it itself once the caller lets go ([`LOCK_PASSES_TO_CHILD`]).
/// Does not wait for it.
pub fn spawn_detached(mut command: Command, _inherit: &File) -> io::Result<Child> {
    command.creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP);
    command.spawn()
}

/// Ends this process (exit code 1) once `lifetime` has passed, whatever
/// it is doing then: a thread sleeps that long, then terminates it.
pub fn limit_lifetime(lifetime: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(lifetime);
        // SAFETY: terminating this process, as SIGALRM does on Unix.
        unsafe { TerminateProcess(GetCurrentProcess(), 1) };
    });
}

/// credbox's stderr as a file, written without std's lock on it: `main`
/// holds that lock for the whole process, and a last line written from
/// another thread (the watchdog's) must not wait for it.
pub fn stderr_unlocked() -> std::mem::ManuallyDrop<File> {
    use std::os::windows::io::{AsRawHandle, FromRawHandle};
    // SAFETY: the standard error handle lives as long as the process;
    // ManuallyDrop never closes it.
    std::mem::ManuallyDrop::new(unsafe { File::from_raw_handle(std::io::stderr().as_raw_handle()) })
}

/// The end signals held while a helper's state may change: on Windows,
/// nothing is held. A console's Ctrl-C reaches credbox's own process
/// group only when it runs in the foreground, and `TerminateProcess` (how
/// Windows ends a process from outside) cannot be caught; what protects a
/// rotated token there is the atomic write alone.
#[derive(Debug)]
pub struct EndSignalsHeld;

/// Holds nothing on Windows (see [`EndSignalsHeld`]).
pub fn hold_end_signals() -> EndSignalsHeld {
    EndSignalsHeld
}

impl EndSignalsHeld {
    /// Nothing to act on (see [`EndSignalsHeld`]).
    pub fn release(self) {}
}

/// Makes `link` start `program`: a hard link (no privilege needed, same
/// volume), else a copy.
pub fn link_program(program: &Path, link: &Path) -> io::Result<()> {
    std::fs::hard_link(program, link).or_else(|_| std::fs::copy(program, link).map(|_| ()))
}

/// Whether `link` is what [`link_program`] made for `program`: a hard
/// link to it, or a copy with the same bytes.
pub fn is_program_link(link: &Path, program: &Path) -> bool {
    let Ok(file) = File::open(program) else {
        return false;
    };
    same_file(&file, link)
        || matches!((std::fs::read(link), std::fs::read(program)), (Ok(a), Ok(b)) if a == b)
}

/// What credbox needs at start (its `main` skips std's, see main.rs):
/// nothing on Windows, where std writes to a missing standard handle as
/// to a sink and there is no `SIGPIPE`.
pub fn start_process() {}

/// What tests need of the OS: set and read access (as Unix modes), make
/// links. Windows has no FIFOs at a path.
#[cfg(test)]
pub mod testing {
    /// An argument that is not UTF-8 (a lone surrogate after `h`).
    pub fn not_utf8() -> std::ffi::OsString {
        use std::os::windows::ffi::OsStringExt;
        std::ffi::OsString::from_wide(&[u16::from(b'h'), 0xD800])
    }

    use std::path::Path;

    /// Makes `path` private (`mode` without group or other bits) or open
    /// to Everyone (with them), as `icacls` would.
    pub fn set_mode(path: &Path, mode: u32) {
        let me = format!("*{}:F", super::me().unwrap().text);
        let mut command = std::process::Command::new("icacls");
        command.arg(path).args(["/inheritance:r", "/grant:r", &me]);
        if mode & 0o077 != 0 {
            command.args(["/grant", "*S-1-1-0:R"]);
        }
        assert!(command.status().unwrap().success());
    }

    /// `path`'s access as a Unix mode: 600/700 when private, else 644/755.
    pub fn mode(path: &Path) -> u32 {
        let meta = std::fs::metadata(path).unwrap();
        let open = super::exposure(path, &meta, super::Owners::Me).is_some();
        match (meta.is_dir(), open) {
            (true, false) => 0o700,
            (true, true) => 0o755,
            (false, false) => 0o600,
            (false, true) => 0o644,
        }
    }

    /// There is no FIFO at a path on Windows.
    pub fn make_fifo(_path: &Path) {
        panic!("Windows has no FIFOs at a path");
    }

    /// Makes a symbolic link at `link` to the file `target`.
    pub fn symlink(target: &Path, link: &Path) {
        if target.is_dir() {
            std::os::windows::fs::symlink_dir(target, link).unwrap();
        } else {
            std::os::windows::fs::symlink_file(target, link).unwrap();
        }
    }
}
