"""The chat-completions client: any OpenAI-compatible endpoint through the official package.

Hosted APIs, Ollama, vLLM and llama.cpp servers all speak ``POST /v1/chat/completions``; the
``openai`` package (an optional extra, imported only when a call is actually made, so replaying a
cache needs neither the package nor a server) sends the requests.

The API key is read from the environment (``LLM_MARKET_API_KEY``, else ``OPENAI_API_KEY``) when
the client is built, handed to the ``openai`` client and nowhere else: it is not part of the
configuration, the requests, the cache or any message (error texts are scrubbed of it). A local
server needs no key; a placeholder is sent.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any, Protocol

KEY_VARIABLES = ("LLM_MARKET_API_KEY", "OPENAI_API_KEY")
# Local servers ignore the key, but the openai package refuses to start without one.
NO_KEY = "no-key"


@dataclass(frozen=True)
class Completion:
    """What the policy keeps of one chat completion (and what the cache stores).

    Attributes:
        content: The reply text (None when the server sent none).
        prompt_tokens: Prompt tokens the server counted.
        completion_tokens: Completion tokens the server counted.
        finish_reason: ``stop``, ``length`` (cut at ``max_tokens``), ...
        model: The model name the server reports.
        estimated_usage: True when the server sent no usage and tokens were estimated.
    """

    content: str | None
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = None
    model: str | None = None
    estimated_usage: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (the cache's response column)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Completion:
        """Rebuild from :meth:`to_dict` output."""
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__ if k in data})


class TransportError(Exception):
    """A call failed for reasons other than the reply's content (network, timeout, HTTP 5xx)."""


class EndpointError(Exception):
    """The endpoint refuses every call (bad key, no such model): the run cannot go on."""


class ChatClient(Protocol):
    """Anything that turns a chat request into a :class:`Completion`."""

    def complete(self, request: dict[str, Any]) -> Completion:
        """Send one request (the keyword arguments of ``chat.completions.create``)."""
        ...


def api_key_from_env() -> str:
    """The API key from the environment, or a placeholder for servers that need none."""
    for name in KEY_VARIABLES:
        value = os.environ.get(name)
        if value:
            return value
    return NO_KEY


def estimate_tokens(text: str) -> int:
    """A rough token count (four characters per token) for servers that report no usage."""
    return (len(text) + 3) // 4


class OpenAIChatClient:
    """A :class:`ChatClient` backed by ``openai.OpenAI``; safe to share between threads.

    Args:
        base_url: The endpoint, for example ``http://127.0.0.1:8000/v1``.
        timeout: Seconds before one HTTP request is abandoned.
        http_retries: Retries of the ``openai`` package itself on connection errors, 408, 429
            and 5xx (with its own backoff); a call that still fails is a transport failure.

    Raises:
        ImportError: The ``openai`` package is not installed.
    """

    def __init__(self, base_url: str, timeout: float = 60.0, http_retries: int = 2):
        try:
            import openai
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError(
                "the LLM policy needs the openai package: pip install 'llm-market[llm]'"
            ) from err
        self._openai = openai
        self._key = api_key_from_env()
        self._client = openai.OpenAI(
            api_key=self._key, base_url=base_url, timeout=timeout, max_retries=http_retries
        )

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key != NO_KEY else text

    def complete(self, request: dict[str, Any]) -> Completion:
        """Send one request and keep the reply text and usage.

        Raises:
            TransportError: The call failed (after the package's own retries).
            EndpointError: The endpoint rejects the key, the permissions, the model or the
                request's shape (HTTP 401, 403, 404, 422).
        """
        oa = self._openai
        try:
            resp = self._client.chat.completions.create(**request)
        except (oa.AuthenticationError, oa.PermissionDeniedError, oa.NotFoundError) as err:
            raise EndpointError(self._scrub(f"{type(err).__name__}: {err}")) from None
        except oa.UnprocessableEntityError as err:
            # 422 is the server refusing the request's shape: every call would fail alike.
            raise EndpointError(
                self._scrub(
                    f"{type(err).__name__}: {err} (if the server does not know this "
                    "response_format, try another one, e.g. json_object_schema for "
                    "llama-cpp-python)"
                )
            ) from None
        except oa.OpenAIError as err:
            raise TransportError(self._scrub(f"{type(err).__name__}: {err}")) from None
        try:
            choice = resp.choices[0]
            content = choice.message.content
            finish = choice.finish_reason
        except (AttributeError, IndexError, TypeError):
            raise TransportError("malformed response: no choices[0].message") from None
        usage = getattr(resp, "usage", None)
        if usage is not None and usage.prompt_tokens is not None:
            return Completion(
                content,
                int(usage.prompt_tokens),
                int(usage.completion_tokens or 0),
                finish,
                getattr(resp, "model", None),
            )
        prompt_text = "".join(str(m.get("content", "")) for m in request["messages"])
        return Completion(
            content,
            estimate_tokens(prompt_text),
            estimate_tokens(content or ""),
            finish,
            getattr(resp, "model", None),
            estimated_usage=True,
        )
