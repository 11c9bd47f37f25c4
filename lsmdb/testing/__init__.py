"""Test machinery: fault-injecting Env, kill points, stress driver, crash loop, oracle.

Nothing in the engine imports this package; it reaches in through two seams only, the Env
(:mod:`lsmdb.testing.faultenv`) and the kill-point hook (:mod:`lsmdb.killpoint`). Importing
it arms the kill points named in ``LSMDB_KILL_POINTS``, so a crash-loop child
(``python -m lsmdb.testing.stress --child``) dies where its parent asked.
"""

from lsmdb.testing import killpoints as _killpoints  # noqa: F401 - arms LSMDB_KILL_POINTS
