"""The ``lsmdb`` command line (SPEC §9).

Each subcommand is one function decorated with :func:`command`: the decorator registers the
name, the help line and a ``configure(parser)`` callback that adds its arguments; the
function itself takes the parsed arguments and an output stream and returns an exit code.
Heavy modules are imported inside the handler so ``lsmdb --help`` stays fast and a missing
extension only breaks the subcommand that needs it.

Exit codes:
    0   success
    1   I/O error (missing file, permission, ...)  ``lsmdb: error: <reason>: <path>``
    2   corruption found                            ``lsmdb: corruption: <details>``
    3   any other lsmdb error (invalid argument, lock held, ...)
    64  bad command line (usage)
    70  internal error (a bug; run with --traceback to see it)
    130 interrupted
Errors are one line on stderr, never a traceback (unless ``--traceback`` is given).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

import lsmdb
from lsmdb.errors import CorruptionError, Error

__all__ = ["main", "build_parser", "command", "require_file", "whole_number", "bounds_text",
           "out_of_bounds", "require_writable", "EXIT_OK", "EXIT_IO",
           "EXIT_CORRUPTION", "EXIT_ERROR", "EXIT_USAGE", "EXIT_INTERNAL", "EXIT_INTERRUPTED"]

EXIT_OK = 0
EXIT_IO = 1
EXIT_CORRUPTION = 2
EXIT_ERROR = 3
EXIT_USAGE = 64
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace, TextIO], int]


@dataclass(frozen=True)
class _Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Handler


_COMMANDS: list[_Command] = []


def command(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None]):
    """Register ``lsmdb <name>``: ``configure`` adds its arguments, the decorated function
    ``(args, out) -> exit code`` runs it."""

    def register(run: Handler) -> Handler:
        _COMMANDS.append(_Command(name, help, configure, run))
        return run

    return register


class _UsageError(Exception):
    """A malformed command line (reported in one line, exit code 64)."""


class _Parser(argparse.ArgumentParser):
    """argparse whose errors become one line (and exit code 64) instead of usage + exit 2."""

    def error(self, message: str):
        raise _UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def bounds_text(minimum: int, maximum: int | None = None) -> str:
    """How help texts and errors state an integer range: ``">= 1"`` or ``"1 to 1,000"``."""
    return f">= {minimum:,}" if maximum is None else f"{minimum:,} to {maximum:,}"


def out_of_bounds(value: int, minimum: int, maximum: int | None = None) -> str | None:
    """The reason ``value`` is outside [minimum, maximum], or None: the one wording of every
    lsmdb command's range errors, whether argparse or a later check finds them."""
    if value < minimum or (maximum is not None and value > maximum):
        return f"must be {bounds_text(minimum, maximum)}, got {value:,}"
    return None


def whole_number(minimum: int, maximum: int | None = None, *,
                 underscores: bool = False) -> Callable[[str], int]:
    """An argparse ``type`` for integers in [minimum, maximum] (``underscores``: accept
    ``1_000``), with the one-line messages every lsmdb command uses."""

    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", "") if underscores else text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a whole number, got {text!r}") from None
        problem = out_of_bounds(value, minimum, maximum)
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
        return value

    return parse


_positive_int = whole_number(0)


def require_file(path: str) -> str:
    """``path`` if it is a readable regular file, else the OSError naming it (exit code 1)."""
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    return path


def require_writable(path: str, flag: str) -> str:
    """``path`` if an output file can be written there, checked before a long run instead of
    after it: the file is opened for appending (an existing one is left as it is) or created
    and removed again. Else the OSError naming ``flag`` and the path (exit code 1)."""
    existed = os.path.exists(path)
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise type(exc)(exc.errno, f"{flag}: cannot write ({reason})", path) from None
    if not existed:
        os.unlink(path)
    return path


# -- subcommands ------------------------------------------------------------------------


def _configure_sst_dump(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="an SSTable (.sst)")
    p.add_argument("--no-entries", action="store_true",
                   help="print only the footer, properties and index, not the entries")
    p.add_argument("--limit", type=_positive_int, default=None, metavar="N",
                   help="print at most N entries")
    p.add_argument("--verify", action="store_true",
                   help="check every block checksum; corruption exits with code 2")


@command("sst-dump", "print an SSTable's footer, properties, index and entries",
         _configure_sst_dump)
def cmd_sst_dump(args: argparse.Namespace, out: TextIO) -> int:
    require_file(args.file)
    from lsmdb.sstable.dump import dump_sstable

    dump_sstable(args.file, out, verify=args.verify, show_entries=not args.no_entries,
                 limit=args.limit)
    return EXIT_OK


def _configure_wal_dump(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="a WAL segment (.log) or MANIFEST")
    p.add_argument("--kind", choices=("auto", "wal", "raw"), default="auto",
                   help="decode payloads as write batches (wal), show raw records (raw), or "
                        "guess from the file name (auto, the default)")


@command("wal-dump", "print the records of a WAL segment or other log-format file",
         _configure_wal_dump)
def cmd_wal_dump(args: argparse.Namespace, out: TextIO) -> int:
    require_file(args.file)
    from lsmdb.wal.dump import dump_log

    # dump_log prints mid-log corruption in place and returns 1: the exit code says so too.
    clean = dump_log(args.file, out, kind=args.kind) == 0
    return EXIT_OK if clean else EXIT_CORRUPTION


def _configure_bench(p: argparse.ArgumentParser) -> None:
    from lsmdb.bench import configure_parser

    configure_parser(p)


@command("bench", "run db_bench-style workloads and compaction experiments (table, JSON, "
         "CSV, plots, sweeps)", _configure_bench)
def cmd_bench(args: argparse.Namespace, out: TextIO) -> int:
    from lsmdb.bench import run_command

    return run_command(args, out)


def _configure_stress(p: argparse.ArgumentParser) -> None:
    from lsmdb.testing.stress import configure_parser

    configure_parser(p)


@command("stress", "multi-threaded stress test with an exact oracle; crash (kill -9, kill "
         "points) and fault-injection loops", _configure_stress)
def cmd_stress(args: argparse.Namespace, out: TextIO) -> int:
    from lsmdb.testing.stress import run_command

    return run_command(args, out)


# -- driver -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lsmdb", description="lsmdb: an embeddable LSM storage engine.")
    parser.add_argument("--version", action="version", version=f"lsmdb {lsmdb.__version__}")
    parser.add_argument("--traceback", action="store_true",
                        help="show the Python traceback of an unexpected error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for cmd in _COMMANDS:
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.configure(p)
        p.set_defaults(handler=cmd.run)
    return parser


def _oserror_text(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if exc.filename is not None:
        return f"{reason}: {exc.filename}"
    return reason


def _fail(code: int, text: str) -> int:
    print(f"lsmdb: {text}".replace("\n", " "), file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``lsmdb`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.handler(args, sys.stdout)
    except CorruptionError as exc:
        return _fail(EXIT_CORRUPTION, f"corruption: {exc}")
    except Error as exc:
        if isinstance(exc, OSError):  # StorageIOError: its str() already names the path
            return _fail(EXIT_IO, f"error: {exc}")
        return _fail(EXIT_ERROR, f"error: {exc}")
    except BrokenPipeError:
        # Output piped into a pager or `head` that quit early: not an error of ours.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass  # stdout is not a real file (tests): nothing will be flushed to a pipe
        return EXIT_OK
    except OSError as exc:
        return _fail(EXIT_IO, f"error: {_oserror_text(exc)}")
    except ImportError as exc:
        return _fail(EXIT_ERROR, f"error: {args.command} is unavailable in this build ({exc})")
    except KeyboardInterrupt:
        return _fail(EXIT_INTERRUPTED, "interrupted")
    except Exception as exc:
        if args.traceback:
            raise
        return _fail(EXIT_INTERNAL, f"internal error: {type(exc).__name__}: {exc} "
                                    "(rerun with --traceback and report it)")


if __name__ == "__main__":
    sys.exit(main())
