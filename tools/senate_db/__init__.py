"""Python harness for the SciDEX Senate economics database (migrations, servers, tests)."""

__version__ = "0.1.0"
