//! Sync features, each through the `Pair` driver.
