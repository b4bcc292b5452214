"""Django's exceptions as the JSON-RPC errors a client sees (docs/protocol.md §6).

Like gRPC's status mapping: a handler raises what Django code raises anyway (``Order.DoesNotExist``,
``get_object_or_404``, ``PermissionDenied``, ``full_clean()``'s ``ValidationError``) and the
caller gets the matching code. What is not mapped here is left to the worker, which answers
-32603 and logs the traceback without sending it.
"""
import asyncio
from typing import Optional

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404

from fastify_ipc import ErrorCode, RpcError

# asyncio.TimeoutError is TimeoutError from Python 3.11 on, a class of its own before.
TIMEOUTS = (TimeoutError, asyncio.TimeoutError)


def django_error(exc: BaseException) -> Optional[RpcError]:
    """The RpcError for a Django exception, or None for anything else."""
    if isinstance(exc, (ObjectDoesNotExist, Http404)):
        return RpcError(ErrorCode.NOT_FOUND, message(exc, "Not found"))
    if isinstance(exc, PermissionDenied):
        return RpcError(ErrorCode.PERMISSION_DENIED, message(exc, "Permission denied"))
    if isinstance(exc, ValidationError):
        data = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return RpcError(ErrorCode.INVALID_PARAMS, "Invalid params", data)
    if isinstance(exc, TIMEOUTS):
        return RpcError(ErrorCode.DEADLINE_EXCEEDED, message(exc, "Deadline exceeded"))
    return None


def message(exc: BaseException, default: str) -> str:
    return str(exc) or default
