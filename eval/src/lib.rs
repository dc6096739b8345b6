//! tvix-eval: the Nix language.
//!
//! This crate will hold the parser front-end (rnix), the compiler to
//! bytecode, the VM, the value model and the builtins. It must never know
//! about stores: store-backed I/O is injected by `tvix-glue`. Nothing is
//! implemented yet (see the eval issue).
