"""Every name the package promises at top level resolves to the real object."""
import importlib

import evalkit


def test_every_export_resolves_to_its_module_object():
    for name, module in evalkit._EXPORTS.items():
        assert getattr(evalkit, name) is getattr(importlib.import_module(module), name), name


def test_unknown_name_is_an_attribute_error():
    try:
        evalkit.no_such_thing  # noqa: B018
    except AttributeError as e:
        assert "no_such_thing" in str(e)
    else:
        raise AssertionError("expected AttributeError")
