"""The docstring examples of results/ run and hold."""

import doctest
import importlib

import pytest

MODULES = ["results.answer", "results.archive", "results.encoding", "results.format", "results.record",
           "results.render", "results.report", "results.schema", "results.stats", "results.validity"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
