"""Model calls for evalkit's LLM features, all through litellm (see :mod:`evalkit.llm.client`)."""

from .client import Budget, BudgetExceeded, LLMClient, LLMReply, request_key
from .spec import ModelSpec
from .transport import LLMCallError

__all__ = ["Budget", "BudgetExceeded", "LLMCallError", "LLMClient", "LLMReply", "ModelSpec", "request_key"]
