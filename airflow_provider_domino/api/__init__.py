"""The Domino Jobs API described once: typed models, errors, request builders and response parsers.

Everything here is plain Python with no HTTP client in sight, so the sync hook (requests) and the async
hook (aiohttp) send exactly the same requests and read responses the same way.
"""
