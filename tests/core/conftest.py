"""Core tests: the fuzz campaign's counts are printed at the end of the run (tests/fuzz_counts.py)."""


def pytest_terminal_summary(terminalreporter):
    from fuzz_counts import terminal_summary

    terminal_summary(terminalreporter)
