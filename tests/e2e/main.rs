//! End-to-end tests (filled below).
