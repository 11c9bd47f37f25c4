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
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

import lsmdb
from lsmdb.cliargs import (
    EXIT_CORRUPTION,
    EXIT_ERROR,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_IO,
    EXIT_OK,
    EXIT_USAGE,
    require_file,
    whole_number,
)
from lsmdb.errors import CorruptionError, Error

__all__ = ["main", "build_parser", "command", "EXIT_OK", "EXIT_IO", "EXIT_CORRUPTION",
           "EXIT_ERROR", "EXIT_USAGE", "EXIT_INTERNAL", "EXIT_INTERRUPTED"]

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


_positive_int = whole_number(0)


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
    from lsmdb.testing.stress_command import configure_parser

    configure_parser(p)


@command("stress", "multi-threaded stress test with an exact oracle; crash (kill -9, kill "
         "points) and fault-injection loops", _configure_stress)
def cmd_stress(args: argparse.Namespace, out: TextIO) -> int:
    from lsmdb.testing.stress_command import run_command

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
