"""The end of ``inspect-cert`` and ``inspect-token`` summaries: the problems, then the verdict."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from bot.core.checks import Problem, errors_in, is_blocking, warnings_in

WIDTH = 100


def problem_lines(problems: Sequence[Problem], *, what: str, warned: str) -> list[str]:
    """ "No problems found" for a clean ``what`` ("certificate", "token"); else each problem
    (errors first, as given) wrapped to ``WIDTH``, and the result: blocked, or ``warned``."""
    if not problems:
        return [f"No problems found: this {what} can be uploaded."]
    errors, warnings = len(errors_in(problems)), len(warnings_in(problems))
    lines = [
        f"Problems ({errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}):"
    ]
    for problem in problems:
        head = f"  {problem.severity.upper():<8}{problem.code}: "
        lines.append(
            textwrap.fill(problem.message, WIDTH, initial_indent=head, subsequent_indent=" " * 12)
        )
    lines.append("")
    lines.append(
        "Result: BLOCKED - fix the errors above before uploading."
        if is_blocking(problems)
        else f"Result: OK with warnings - {warned}."
    )
    return lines
