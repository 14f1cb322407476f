//! The root package of the redsim workspace. It holds no code of its own: its `tests/` directory holds the
//! scenarios and properties that exercise several crates together (`cargo test` from the workspace root).
