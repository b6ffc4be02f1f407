"""biodsnn."""
