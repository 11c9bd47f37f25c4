"""Settings for the whole suite.

Hypothesis: no per-example deadline and no "too slow" health check. Both measure wall-clock
time, so on a loaded machine (CI shares its cores) they fail tests whose code is correct; a
test of lsmdb may not depend on timing. A test that wants a limit states it itself.
"""

from hypothesis import HealthCheck, settings

settings.register_profile("lsmdb", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("lsmdb")
