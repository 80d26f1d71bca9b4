"""ASGI entry: HTTP through Django, WebSockets through Channels' protocol router."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cs_platform.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402  (Django must be set up first)

from chat.routing import websocket_application  # noqa: E402
from cs_platform import daphne_body  # noqa: E402
from cs_platform.log_redaction import use_redacting_access_log  # noqa: E402

use_redacting_access_log()
# Under Daphne, request bodies are read on demand, not whole (django/daphne#483). Daphne's classes are changed in
# every process (Daphne's app config imports them anyway); they act only where Daphne serves.
daphne_body.install()
application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application})

# Everything loaded so far (Django, Channels, Twisted, the URL conf) lives as long as the worker: keep it out of the
# collector's full passes. A full collection of a busy worker stopped every socket for 60-70 ms before, 10-20 after
# (docs/performance.md).
gc.freeze()
