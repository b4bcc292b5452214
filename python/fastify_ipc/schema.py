"""Method schemas from pydantic models (1.10 or 2.x) or plain JSON Schema dicts: the one place that
knows pydantic. Pydantic stays optional: nothing here imports it."""
import copy
from typing import Any, Callable, Dict, List, Optional, Tuple


def is_model(obj: Any) -> bool:
    """A pydantic model class, of either major version."""
    return isinstance(obj, type) and (hasattr(obj, "model_json_schema") or hasattr(obj, "parse_obj"))


def json_schema(obj: Any, where: str) -> Optional[Dict[str, Any]]:
    """The JSON Schema the gateway validates with and shows in rpc.discover and /openrpc.json."""
    if obj is None:
        return None
    if is_model(obj):
        raw = obj.model_json_schema() if hasattr(obj, "model_json_schema") else obj.schema()
        return inline_refs(raw)
    if isinstance(obj, dict):
        return obj
    raise TypeError(f"{where}: a pydantic model class or a JSON Schema dict, not {obj!r}")


def inline_refs(schema: Dict[str, Any]) -> Dict[str, Any]:
    """Nested models come as ``$ref``s into ``definitions`` (pydantic 1) or ``$defs`` (pydantic 2);
    they are inlined so any validator reads the schema alone. A recursive model keeps its refs."""
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    if not defs:
        return schema

    def resolve(node: Any, seen: Tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [resolve(n, seen) for n in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.rsplit("/", 1)[-1] in defs and "/" in ref:
            name = ref.rsplit("/", 1)[-1]
            if name in seen:
                raise RecursionError(name)
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {**resolve(copy.deepcopy(defs[name]), seen + (name,)), **rest}
        return {k: resolve(v, seen) for k, v in node.items() if k not in ("definitions", "$defs")}

    try:
        return resolve(schema, ())
    except RecursionError:
        return schema


def params_reader(obj: Any) -> Optional[Callable[[Any], Any]]:
    """For a model, a function from the params object to the model instance (raising
    ``InvalidParams`` with the errors); None for a dict schema (the gateway has validated)."""
    if not is_model(obj):
        return None
    validate = obj.model_validate if hasattr(obj, "model_validate") else obj.parse_obj

    def read(params: Any) -> Any:
        try:
            return validate(params)
        except ValueError as err:  # pydantic's ValidationError, in both versions
            errors = getattr(err, "errors", None)
            if errors is None:
                raise
            raise InvalidParams(validation_errors(errors())) from None

    return read


class InvalidParams(Exception):
    def __init__(self, errors: List[Dict[str, str]]) -> None:
        super().__init__("Invalid params")
        self.errors = errors


def validation_errors(errors: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    """Pydantic's errors in the Node SDK's shape: ``{"path": "/a/0", "message": ...}``, at most 20."""
    return [{"path": "/" + "/".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg", ""))} for e in errors[:20]]


def to_json_value(value: Any) -> Any:
    """A model instance as JSON-ready data (``json.dumps``' ``default``); other types fail as usual."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "json") and hasattr(value, "dict") and hasattr(type(value), "parse_obj"):
        import json

        return json.loads(value.json())
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
