"""The log format shared by the WAL and the MANIFEST, and the wal-dump tool.

``LogWriter`` appends records (one ``append`` per call, several records per call for group
commit); ``LogReader`` reads a whole log, telling a torn tail (reported) from mid-log
corruption (raised, or skipped with ``skip_corrupted=True``). Format: docs/format/log.md.
"""

from lsmdb._core.logformat import BLOCK_BYTES, HEADER_BYTES, LogReader, LogWriter, encode_records

__all__ = ["BLOCK_BYTES", "HEADER_BYTES", "LogReader", "LogWriter", "encode_records"]
