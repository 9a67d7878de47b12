//! The single-writer lock: `Store::open` refuses a store whose `ROOT/.lock` another open
//! file holds (as another process would), naming the holder's pid; readers are not refused.
use hotspare_store::{Store, StoreConfig, StoreError, LOCK_FILE};
use rustix::fs::FlockOperation;

#[test]
fn held_lock_refuses_a_writer_and_names_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let lock_path = dir.path().join(LOCK_FILE);
    std::fs::write(&lock_path, "4242\n").unwrap();
    let holder = std::fs::OpenOptions::new().read(true).write(true).open(&lock_path).unwrap();
    rustix::fs::flock(&holder, FlockOperation::NonBlockingLockExclusive).unwrap();

    match Store::open(dir.path(), StoreConfig::default()) {
        Err(e @ StoreError::Locked { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("locked by another writing process (pid 4242)"), "{msg}");
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a second writer was accepted"),
    }
    assert!(Store::open_readonly(dir.path()).is_ok(), "readers take no lock");

    drop(holder);
    let store = Store::open(dir.path(), StoreConfig::default()).expect("lock free again");
    assert_eq!(std::fs::read_to_string(&lock_path).unwrap().trim(), std::process::id().to_string());
    // Within one process, another open of the same root shares the lock.
    let again = Store::open(dir.path(), StoreConfig::default()).expect("same process");
    drop((store, again));
    // Released with the last store: another holder can take it.
    let other = std::fs::OpenOptions::new().read(true).write(true).open(&lock_path).unwrap();
    rustix::fs::flock(&other, FlockOperation::NonBlockingLockExclusive).expect("released on drop");
}

/// A copy of this process's own lock descriptor still open for a moment (a child between
/// fork and exec, started by another thread) does not refuse the next open: the lock file
/// names this process, so the open waits for it (up to 2 s). One that stays is refused,
/// naming this process.
#[test]
fn own_lock_held_by_a_moment_s_copy_is_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let lock_path = dir.path().join(LOCK_FILE);
    drop(Store::open(dir.path(), StoreConfig::default()).unwrap());
    let me = std::process::id().to_string();
    assert_eq!(std::fs::read_to_string(&lock_path).unwrap().trim(), me);
    let copy = std::fs::OpenOptions::new().read(true).write(true).open(&lock_path).unwrap();
    rustix::fs::flock(&copy, FlockOperation::NonBlockingLockExclusive).unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        drop(copy);
    });
    let t = std::time::Instant::now();
    let store = Store::open(dir.path(), StoreConfig::default()).expect("waited for the copy to close");
    assert!(t.elapsed() >= std::time::Duration::from_millis(150), "{:?}", t.elapsed());
    release.join().unwrap();
    drop(store);

    let stays = std::fs::OpenOptions::new().read(true).write(true).open(&lock_path).unwrap();
    rustix::fs::flock(&stays, FlockOperation::NonBlockingLockExclusive).unwrap();
    match Store::open(dir.path(), StoreConfig::default()) {
        Err(e @ StoreError::Locked { .. }) => assert!(e.to_string().contains(&format!("pid {me}")), "{e}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a lock that stays held was ignored"),
    }
}
