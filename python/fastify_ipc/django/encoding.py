"""Django's values as JSON, the way Django's own JSON responses write them."""
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from fastify_ipc.schema import to_json_value

_django = DjangoJSONEncoder()


def default(value: Any) -> Any:
    """datetime, date, time and timedelta as ISO 8601, Decimal, UUID and lazy translations as
    strings (DjangoJSONEncoder); pydantic models as the worker sends them."""
    try:
        return _django.default(value)
    except TypeError:
        return to_json_value(value)


def plain(value: Any) -> Any:
    """``value`` as plain JSON data, made now: what a later send sends is what it was at this call,
    and a value JSON cannot express fails here, in the caller, not after a commit."""
    return json.loads(json.dumps(value, default=default))
