"""The chat API: routes, JSON mapping, errors -> status codes."""
