"""Byte-size units for option values: ``Options(memtable_bytes=8 * MiB)``."""

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
