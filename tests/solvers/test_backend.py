"""The taichi back-end set-up: the short source positions of kernel translation."""

from pathlib import Path

import numpy as np
import pytest
import taichi as ti

from spinodoid.solvers.backend import init_backend


@ti.kernel
def _undefined_name(out: ti.types.ndarray()):
    for i in range(out.shape[0]):
        out[i] = no_such_variable  # noqa: F821


@ti.kernel
def _double(out: ti.types.ndarray(), value: ti.f32):
    for i in range(out.shape[0]):
        out[i] = 2 * value


def test_translation_error_names_file_line_and_source():
    init_backend("cpu")
    with pytest.raises(ti.TaichiCompilationError) as caught:
        _undefined_name(np.zeros(4, dtype=np.float32))
    message = str(caught.value)
    assert __file__ in message
    source = Path(__file__).read_text().splitlines()
    line = 1 + next(
        k for k, text in enumerate(source) if text.endswith("no_such_variable  # noqa: F821")
    )
    assert f"line {line}, in _undefined_name" in message
    assert "out[i] = no_such_variable" in message
    assert "^^^" not in message  # the caret excerpt is the part left out


def test_kernels_translate_and_run_with_short_positions():
    init_backend("cpu")
    out = np.zeros(3, dtype=np.float32)
    _double(out, 1.5)
    np.testing.assert_array_equal(out, [3.0, 3.0, 3.0])
