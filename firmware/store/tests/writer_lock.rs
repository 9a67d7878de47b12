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
