"""The WAL record of a one-op batch as the general path writes it (public testing tool).

The compiled write paths (``WalTail.c_append_op`` / ``c_append_record``, lsmdb/_core) encode
a single put or delete themselves; their tests compare those bytes with what
``LogWriter.add_record`` appends for the same batch at the same file offset.
"""

from lsmdb._core.batch import WriteBatch
from lsmdb._core.ikey import PUT
from lsmdb._core.logformat import LogWriter


class _Sink:
    """A file that keeps what is appended to it."""

    def __init__(self) -> None:
        self.data = b""

    def append(self, data: bytes) -> None:
        self.data += data


def one_op_record(seq: int, vtype: int, key: bytes, value: bytes,
                  offset: int) -> tuple[bytes, WriteBatch]:
    """(the bytes the general path appends at file ``offset`` for the batch of one put
    (``vtype`` PUT) or delete numbered ``seq``, that batch)."""
    b = WriteBatch()
    if vtype == PUT:
        b.put(key, value)
    else:
        b.delete(key)
    b.sequence = seq
    sink = _Sink()
    LogWriter(sink, offset).add_record(b.data())
    return sink.data, b
