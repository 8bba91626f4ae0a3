"""The app's pages: key (URL path), title, permission, render function, menu section."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class PageSpec:
    key: str
    title: str
    icon: str
    permission: str
    section: str
    render: Callable[[], None]
    in_menu: bool = True


def _lazy(module: str) -> Callable[[], None]:
    def render() -> None:
        import importlib

        importlib.import_module(f"review_ui.{module}").render()

    render.__name__ = f"render_{module}"
    return render


PAGES: tuple[PageSpec, ...] = (
    PageSpec("queue", "Review queue", ":material/inbox:", "review", "Review", _lazy("queue_page")),
    PageSpec("session", "Session", ":material/stethoscope:", "review", "Review", _lazy("session_page")),
    PageSpec("agreement", "Agreement", ":material/groups:", "agreement", "Review", _lazy("agreement_page")),
    PageSpec("dashboards", "Dashboards", ":material/monitoring:", "dashboards", "Runs", _lazy("dashboards_page")),
    PageSpec("compare", "Compare runs", ":material/compare_arrows:", "compare", "Runs", _lazy("compare_page")),
    PageSpec("sweep", "Robustness sweep", ":material/graphic_eq:", "dashboards", "Runs", _lazy("sweep_page")),
    PageSpec("stream", "Streaming", ":material/speed:", "dashboards", "Runs", _lazy("stream_page")),
    PageSpec("audit", "Audit log", ":material/history:", "audit", "Admin", _lazy("audit_page")),
    PageSpec("users", "Users & assignments", ":material/manage_accounts:", "manage_users", "Admin",
             _lazy("users_page")),
)
