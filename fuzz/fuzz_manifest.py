"""Fuzz the MANIFEST version-edit decoder: hostile bytes decode to an edit or raise
CorruptionError; a decoded edit re-encodes and decodes to itself.

    python fuzz/fuzz_manifest.py -max_total_time=60 fuzz/corpus/manifest
    python fuzz/fuzz_manifest.py --make-corpus fuzz/corpus/manifest
"""

import os

import atheris
import fuzzmain

with atheris.instrument_imports():
    from lsmdb.lsm.version_edit import FileMetaData, VersionEdit

from lsmdb.errors import CorruptionError


def TestOneInput(data: bytes) -> None:
    try:
        edit = VersionEdit.decode(data, "fuzz/MANIFEST", 0)
    except CorruptionError:
        return
    again = VersionEdit.decode(edit.encode())
    if again != edit:
        raise AssertionError("version edit does not round-trip")


def make_corpus(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    snapshot = VersionEdit(log_number=7, next_file_number=42, last_sequence=1000,
                           format_version=1, style="leveled")
    snapshot.add_file(0, FileMetaData(12, 4096, b"a" + bytes(8), b"m" + bytes(8), 1, 90, 50))
    snapshot.add_file(3, FileMetaData(9, 81920, b"b" * 9, b"z" * 9, 1, 50, 800, 3, 1, 9000))
    flush = VersionEdit(log_number=9)
    flush.add_file(0, FileMetaData(13, 2048, b"c" * 9, b"d" * 9, 91, 120, 30))
    compaction = VersionEdit(compact_pointers=[(1, b"k" * 9)])
    compaction.delete_file(0, 12)
    compaction.delete_file(3, 9)
    compaction.add_file(4, FileMetaData(14, 90000, b"a" * 9, b"z" * 9, 1, 120, 850, run=2))
    for name, edit in (("snapshot", snapshot), ("flush", flush), ("compaction", compaction)):
        with open(os.path.join(directory, name), "wb") as f:
            f.write(edit.encode())


if __name__ == "__main__":
    fuzzmain.run(TestOneInput, make_corpus)
