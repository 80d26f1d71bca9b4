"""WebSocket routes. Origins are checked per socket (chat/consumers.py): customers against their business
line's sites, agents with a session cookie against the product's own host."""

from channels.auth import AuthMiddlewareStack
from django.urls import path

from channels.routing import URLRouter

from chat.consumers import AgentConsumer, CustomerConsumer

websocket_application = AuthMiddlewareStack(
    URLRouter(
        [
            path("ws/customer/", CustomerConsumer.as_asgi()),
            path("ws/agent/", AgentConsumer.as_asgi()),
        ]
    )
)
