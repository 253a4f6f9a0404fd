"""Our own HTTP/1.1: a sans-IO codec and a connection handler on asyncio streams."""
