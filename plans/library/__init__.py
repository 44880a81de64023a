"""Package data: the exercise catalogue and the built-in programmes (YAML)."""
