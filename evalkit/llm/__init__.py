"""Model calls for evalkit's LLM features, all through litellm (see :mod:`evalkit.llm.client`).

- :class:`LLMClient`: cached, retried, bounded, budgeted calls with token/cost accounting.
- :class:`ModelSpec`: which model and how (``api_base`` for private servers).
- :class:`JudgePool`: bulk judging with one process per core.
"""

from .budget import Budget, BudgetExceeded
from .client import LLMClient
from .pool import JudgePool
from .reply import LLMReply, request_key
from .spec import ModelSpec
from .transport import LLMCallError

__all__ = ["Budget", "BudgetExceeded", "JudgePool", "LLMCallError", "LLMClient", "LLMReply", "ModelSpec",
           "request_key"]
