"""Shared test setup."""

from __future__ import annotations

import os
import tempfile

# Verified signature sets live in a per-user data directory; tests must never read (or write) the
# real one of whoever runs them, so every test process, and the subprocesses it starts, gets its
# own empty store unless a test points NSCHECK_DATA_DIR elsewhere.
os.environ["NSCHECK_DATA_DIR"] = tempfile.mkdtemp(prefix="nscheck-test-data-")
