"""The chat API over our HTTP/1.1: one module per feature, named like `app/`'s.

Each feature module (`identity`, `messages`, `rooms`, `files`, `schedule`,
`moderation`, `polling`, `service`) holds its handlers, its JSON shapes and
its OpenAPI operations and schemas side by side. `routes` is the one table
of method, path, handler and limits that both the router and the OpenAPI
document (`openapi`, the builder) are made from. `ChatApi` binds it to a
service.
"""

from transport.api.chat_api import ChatApi

__all__ = ["ChatApi"]
