"""The package facade (lsmdb/__init__.py): lazy at run time, typed for type checkers.

`lsmdb.open` and the other lazily served names must be the real objects (their signatures and
type hints intact), the type checkers' view (the `if TYPE_CHECKING:` imports) must list exactly
what `__getattr__` serves, and `import lsmdb.errors` / `lsmdb.options` must not load the
Cython core."""

import ast
import inspect
import subprocess
import sys
import typing
from pathlib import Path

import pytest

import lsmdb

FACADE = Path(lsmdb.__file__)


def _type_checking_imports() -> dict[str, tuple[str, str]]:
    """name -> (module, attribute) of the facade's `if TYPE_CHECKING:` imports."""
    out = {}
    for node in ast.parse(FACADE.read_text()).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom)
                for alias in imp.names:
                    # `X as X`: the marker type checkers read as a re-export (py.typed).
                    assert alias.asname == alias.name, alias.name
                    out[alias.name] = (imp.module, alias.name)
    return out


def test_open_is_the_real_function_with_its_signature_and_hints():
    from lsmdb.lsm import db

    assert lsmdb.open is db.open
    assert inspect.signature(lsmdb.open) == inspect.signature(db.open)
    assert "options" in inspect.signature(lsmdb.open).parameters
    hints = typing.get_type_hints(lsmdb.open)
    assert hints["return"] is db.DB
    assert hints["create"] is bool


def test_type_checkers_see_every_lazy_name_as_the_object_served():
    import importlib

    declared = _type_checking_imports()
    assert "open" in declared and "StorageEngine" in declared
    for name, (module, attribute) in declared.items():
        assert getattr(lsmdb, name) is getattr(importlib.import_module(module), attribute), name


def test_every_name_getattr_serves_is_declared_for_type_checkers():
    # __getattr__ serves exactly these groups (see lsmdb/__init__.py).
    served = {"open", "DB", "Snapshot", "DBIterator", "Options", "CompactionPolicy",
              "CompactionJob", "VersionView", "LeveledPolicy", "TieredPolicy",
              "LazyLevelingPolicy", "FluidPolicy", "FIFOPolicy",
              *lsmdb._ENGINE_NAMES, *lsmdb._STORAGE_API_NAMES}
    assert set(_type_checking_imports()) == served


def test_a_misspelt_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="opne"):
        lsmdb.opne  # noqa: B018


def test_errors_and_options_import_without_the_cython_core():
    code = ("import sys, lsmdb.errors, lsmdb.options; "
            "print(sorted(m for m in sys.modules if m.startswith('lsmdb._core') "
            "or m.startswith('lsmdb.lsm')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
