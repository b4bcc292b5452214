"""JSON-RPC errors a handler raises, passed to the caller unchanged (docs/protocol.md §6)."""
from typing import Any, Dict


class ErrorCode:
    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    UNAUTHENTICATED = -32001
    PERMISSION_DENIED = -32003
    NOT_FOUND = -32004
    DEADLINE_EXCEEDED = -32008
    CONFLICT = -32009
    RATE_LIMITED = -32029
    UNAVAILABLE = -32050


_NO_DATA: Any = object()


class RpcError(Exception):
    """An error with a JSON-RPC code; ``data`` is sent only when given."""

    def __init__(self, code: int, message: str, data: Any = _NO_DATA) -> None:
        super().__init__(message)
        if not isinstance(code, int) or isinstance(code, bool):
            raise TypeError(f"RpcError: code must be an int, not {code!r}")
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> Dict[str, Any]:
        if self.data is _NO_DATA:
            return {"code": self.code, "message": self.message}
        return {"code": self.code, "message": self.message, "data": self.data}

    def __repr__(self) -> str:
        return f"RpcError({self.code}, {self.message!r})"


def not_found(message: str = "Not found", data: Any = _NO_DATA) -> RpcError:
    return RpcError(ErrorCode.NOT_FOUND, message, data)


def permission_denied(message: str = "Permission denied", data: Any = _NO_DATA) -> RpcError:
    return RpcError(ErrorCode.PERMISSION_DENIED, message, data)


def invalid_params(message: str = "Invalid params", data: Any = _NO_DATA) -> RpcError:
    return RpcError(ErrorCode.INVALID_PARAMS, message, data)


def unauthenticated(message: str = "Unauthenticated", data: Any = _NO_DATA) -> RpcError:
    return RpcError(ErrorCode.UNAUTHENTICATED, message, data)


def internal_error(data: Any = _NO_DATA) -> Dict[str, Any]:
    return RpcError(ErrorCode.INTERNAL_ERROR, "Internal error", data).to_json()


def deadline_exceeded() -> RpcError:
    return RpcError(ErrorCode.DEADLINE_EXCEEDED, "Deadline exceeded")
