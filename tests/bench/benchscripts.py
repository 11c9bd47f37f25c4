"""Import a script of bench/ (db_bench.py, open_rss.py, ...) as a module, for the bench tests.

The scripts are not a package: they import their siblings by name (db_bench imports peers),
so bench/ goes on sys.path; a loaded script is registered in sys.modules before it runs
(dataclasses look their module up while a class is built) and loaded once.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load_script(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod
