"""WebSocket routes; filled in by the live chat core."""

from channels.routing import URLRouter

websocket_application = URLRouter([])
