//! Which SDK method a panic happened in. The export glue marks the method it calls, and SDK
//! defaults that call other methods (the default `Model::loss` calls `forward`) mark those,
//! so a panic is reported as a panic in the method that panicked, not in its caller.

use std::cell::RefCell;

thread_local! {
    /// The SDK methods running on this thread, innermost last.
    static METHODS: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
    /// The innermost method a panic unwound out of, until the glue takes it.
    static PANIC_METHOD: RefCell<Option<&'static str>> = const { RefCell::new(None) };
}

/// Runs `body` as SDK method `method`.
pub fn in_method<T>(method: &'static str, body: impl FnOnce() -> T) -> T {
    /// Unmarks the method on the way out; on the way out of a panic, the first (innermost)
    /// one to unwind records itself.
    struct Unmark;
    impl Drop for Unmark {
        fn drop(&mut self) {
            METHODS.with(|methods| {
                let innermost = methods.borrow_mut().pop();
                if std::thread::panicking() {
                    PANIC_METHOD.with(|slot| {
                        let mut slot = slot.borrow_mut();
                        if slot.is_none() {
                            *slot = innermost;
                        }
                    });
                }
            });
        }
    }
    METHODS.with(|methods| methods.borrow_mut().push(method));
    let _unmark = Unmark;
    body()
}

/// The method the latest panic on this thread started in, forgetting it.
pub fn take_panic_method() -> Option<&'static str> {
    PANIC_METHOD.with(|slot| slot.borrow_mut().take())
}

#[cfg(test)]
mod tests {
    use super::{in_method, take_panic_method};

    #[test]
    fn a_panic_is_blamed_on_the_innermost_method() {
        take_panic_method();
        let caught = std::panic::catch_unwind(|| {
            in_method("loss", || in_method("forward", || panic!("shapes")))
        });
        assert!(caught.is_err());
        assert_eq!(take_panic_method(), Some("forward"));
        assert_eq!(take_panic_method(), None);
        // Without a panic nothing is recorded.
        assert_eq!(in_method("loss", || in_method("forward", || 3)), 3);
        assert_eq!(take_panic_method(), None);
    }
}
