"""Usage errors from argparse follow the same rule as every bad input: one line on stderr, exit 2."""

from __future__ import annotations

import pytest

from harness.cli import main


@pytest.mark.parametrize("argv, needle", [
    (["compare", "--blocks", "x", "a", "b"], "argument --blocks: invalid int value: 'x'"),
    (["run", "--variants"], "argument --variants: expected one argument"),
    (["nosuch"], "invalid choice: 'nosuch'"),
    (["run", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
])
def test_usage_error_is_one_line_exit_2(capsys, argv, needle):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert needle in lines[0] and lines[0].startswith("bench") and "--help)" in lines[0]
