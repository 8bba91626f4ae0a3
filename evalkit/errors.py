"""One exception type for bad input: it names the file, the field and the fix, on one line."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input. ``str(err)`` is a single line: ``FILE: FIELD: problem — fix``."""

    def __init__(self, source: str, field: str | None, problem: str, fix: str | None = None):
        self.source = str(source)
        self.field = field
        self.problem = problem
        self.fix = fix
        parts = [self.source]
        if field:
            parts.append(field)
        msg = ": ".join(parts) + ": " + problem.replace("\n", " ")
        if fix:
            msg += f" — fix: {fix}"
        super().__init__(msg)


class ScribeError(RuntimeError):
    """A backend failed or answered with something evalkit cannot read. One line, no note text."""


def pydantic_to_input_error(source: str, exc: Exception, fix: str | None = None) -> InputError:
    """Turn a pydantic ValidationError into an InputError naming the first bad field."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        errs = errors()
        if errs:
            e = errs[0]
            field = ".".join(str(p) for p in e.get("loc", ())) or None
            more = f" (+{len(errs) - 1} more)" if len(errs) > 1 else ""
            inner = (e.get("ctx") or {}).get("error")
            if isinstance(inner, InputError):  # a validator already said what is wrong and how to fix it
                return InputError(source, field, f"{inner.problem}{more}", inner.fix or fix)
            msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
            return InputError(source, field, f"{msg}{more}", fix)
    return InputError(source, None, str(exc).splitlines()[0], fix)
