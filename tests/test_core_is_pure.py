import subprocess
import sys

CORE = ["estimator.engine", "estimator.batch", "estimator.service", "estimator.cli", "estimator.schedules"]


def test_core_imports_no_web_framework():
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in CORE)
        + "bad = [m for m in ('flask', 'marshmallow', 'werkzeug', 'flask_smorest') if m in sys.modules]\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_engine_has_no_row_loops():
    import inspect

    import estimator.engine
    import estimator.pricing

    for module in (estimator.engine, estimator.pricing):
        source = inspect.getsource(module)
        assert "iterrows" not in source
        assert "axis=1)" not in source.replace("concat(", "")
