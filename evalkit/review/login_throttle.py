"""How long a login attempt must wait: growing delays per client and per account, never a lockout.

OWASP's guidance on brute force (Authentication Cheat Sheet, "Login Throttling"; "Slow Down Online
Guessing Attacks with Device Cookies"): slow guessing down with delays that grow with the failures,
per source and per account, and do not let the account's own failures lock its owner out. So:

- **client** — the failed logins from one address (any account) in the last ``window_s``: after
  ``free`` failures, each further attempt waits ``base_s · 2^(failures − free)`` seconds after that
  client's last failure, at most ``client_cap_s``.
- **account** — the failed logins on one account from every address: the same growing delay, at
  most ``user_cap_s``, but applied only to a client that has itself failed on that account, and
  counted from that client's own last failure. A third party can therefore slow down itself and
  the addresses that guess along with it, never a clinician at another address: a correct password
  from a client that has not been failing is checked at once.
- **device** — a browser that logged in to the account in the last ``device_days`` (its random
  device cookie; only a hash is stored) is trusted: only its own failures slow it down, so an
  attacker behind the same hospital address holds up a clinician's usual browser not at all.

Every delay is bounded, attempts are records in the database (a restart forgets nothing), and an
attempt that must wait is refused without checking its password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ThrottlePolicy:
    """The numbers behind login throttling (see the module docstring)."""

    free: int = 3  # failures before the first delay
    base_s: float = 1.0  # the first delay; doubles with each further failure
    client_cap_s: float = 300.0  # the longest a client (or a trusted browser) waits after its last failure
    user_cap_s: float = 60.0  # the longest an account's failures hold up a client that failed on it
    window_s: float = 900.0  # failures older than this are forgotten
    device_days: float = 90.0  # a browser that logged in is trusted for this long

    def delay(self, failures: int, cap: float) -> float:
        """Seconds to wait after the last of ``failures`` failures (0 for the first ``free``)."""
        if failures < self.free:
            return 0.0
        return min(cap, self.base_s * 2.0 ** min(failures - self.free, 62))

    def retry_after(self, stats: dict, now: datetime) -> float:
        """Seconds this attempt must still wait (0: check the password), from
        :meth:`Store.login_attempt_stats`."""

        def left(n: int, last: datetime | None, cap: float) -> float:
            if not n or last is None:
                return 0.0
            return max(0.0, self.delay(n, cap) - (now - last).total_seconds())

        if stats["trusted"]:
            return left(stats["n_d"], stats["last_d"], self.client_cap_s)
        own = left(stats["n_c"], stats["last_c"], self.client_cap_s)
        account = left(stats["n_u"], stats["last_cu"], self.user_cap_s) if stats["n_cu"] else 0.0
        return max(own, account)


__all__ = ["ThrottlePolicy"]
