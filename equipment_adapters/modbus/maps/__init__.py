"""Register maps shipped with gymctl: ``<name>.toml``, loadable by name (``reference-rack``)."""
