"""kg_build."""
