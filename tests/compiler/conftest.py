"""Compiler tests: the fuzz campaigns' counts are printed at the end of the run (tests/fuzz_counts.py)."""


def pytest_terminal_summary(terminalreporter):
    try:
        from fuzz_counts import terminal_summary
    except ImportError:  # pragma: no cover - counting is optional
        return
    terminal_summary(terminalreporter)
