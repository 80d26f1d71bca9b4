"""WebSocket routes. Origins are checked per socket (chat/consumers.py): customers against their business
line's sites, agents and supervisors with a session cookie against the product's own host. Only agents and
supervisors use the session, so only their routes pay for loading it."""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from django.urls import path

from chat.consumers import AgentConsumer, CustomerConsumer
from reports.consumers import SupervisorConsumer

# django-stubs' `path()` knows only Django views, not the ASGI applications Channels routes through it.
websocket_application = URLRouter(
    [
        path("ws/customer/", CustomerConsumer.as_asgi()),  # type: ignore[list-item, arg-type]
        path("ws/agent/", AuthMiddlewareStack(AgentConsumer.as_asgi())),  # type: ignore[list-item, arg-type]
        path("ws/supervisor/", AuthMiddlewareStack(SupervisorConsumer.as_asgi())),  # type: ignore[list-item, arg-type]
    ]
)
