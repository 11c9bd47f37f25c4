import inspect

import lsmdb
import lsmdb.errors


def _error_classes():
    return {name: obj for name, obj in vars(lsmdb.errors).items()
            if inspect.isclass(obj) and issubclass(obj, lsmdb.errors.Error)}


def test_every_error_class_is_in_the_errors_module_all():
    assert sorted(_error_classes()) == sorted(lsmdb.errors.__all__)


def test_every_error_class_is_exported_at_the_top_level():
    for name, cls in _error_classes().items():
        assert getattr(lsmdb, name) is cls, name
        assert name in lsmdb.__all__, name


def test_background_error_is_exported():
    from lsmdb import BackgroundError

    assert BackgroundError is lsmdb.errors.BackgroundError
    assert issubclass(BackgroundError, lsmdb.Error)
