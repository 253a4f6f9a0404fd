"""HTTP/1.1 on asyncio streams: the sans-IO codec, the server, the chat API."""
