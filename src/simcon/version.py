"""The versions SimCon reports: its own, and the runtime-spec version it implements."""

__version__ = "0.1.0"
# The runtime-spec version this runtime implements (printed by `--version`, written in state).
OCI_VERSION = "1.2.0"
