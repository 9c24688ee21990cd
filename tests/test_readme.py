"""The README's Python examples run as written."""

import re
import sys
import warnings
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # the GPU example runs under the CUDA simulator, whose thread polling holds the GIL
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(code, str(README), "exec"), {})
    finally:
        sys.setswitchinterval(interval)


def test_readme_has_examples():
    assert len(BLOCKS) >= 2
