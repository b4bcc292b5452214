"""Django's exceptions as the JSON-RPC errors a client sees (docs/protocol.md §6).

Like gRPC's status mapping: a handler raises what Django code raises anyway (``Order.DoesNotExist``,
``get_object_or_404``, ``PermissionDenied``, ``full_clean()``'s ``ValidationError``) and the
caller gets the matching code. What is not mapped here is left to the worker: ``RpcError`` passes
its code, ``TimeoutError`` answers -32008, anything else -32603 with the traceback logged, never sent.
"""
from typing import Optional

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404

from fastify_ipc import ErrorCode, RpcError


def django_error(exc: BaseException) -> Optional[RpcError]:
    """The RpcError for a Django exception, or None for anything else."""
    if isinstance(exc, (ObjectDoesNotExist, Http404)):
        return RpcError(ErrorCode.NOT_FOUND, message(exc, "Not found"))
    if isinstance(exc, PermissionDenied):
        return RpcError(ErrorCode.PERMISSION_DENIED, message(exc, "Permission denied"))
    if isinstance(exc, ValidationError):
        data = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return RpcError(ErrorCode.INVALID_PARAMS, "Invalid params", data)
    return None


def message(exc: BaseException, default: str) -> str:
    return str(exc) or default
