"""The few pydantic calls the generated models need, for pydantic 1.10 and 2.x alike."""
import json
from functools import lru_cache
from typing import Any, Dict, Type, TypeVar

import pydantic

T = TypeVar("T")

PYDANTIC_V2 = pydantic.VERSION.startswith("2.")

if PYDANTIC_V2:

    class Model(pydantic.BaseModel):
        """Base of every generated model: fields by Python name or wire name (alias)."""

        model_config = pydantic.ConfigDict(populate_by_name=True, protected_namespaces=())

    @lru_cache(maxsize=None)
    def _adapter(tp: Any) -> Any:
        return pydantic.TypeAdapter(tp)

    def parse_as(tp: Type[T], value: Any) -> T:
        """Validates value (JSON data) as tp: a model, List[Model], int, ..."""
        return _adapter(tp).validate_python(value)  # type: ignore[no-any-return]

    def dump(model: pydantic.BaseModel) -> Dict[str, Any]:
        """The model as JSON data with wire names, leaving out fields that were never set."""
        return model.model_dump(mode="json", by_alias=True, exclude_unset=True)

else:

    class Model(pydantic.BaseModel):  # type: ignore[no-redef]
        """Base of every generated model: fields by Python name or wire name (alias)."""

        class Config:
            allow_population_by_field_name = True

    def parse_as(tp: Type[T], value: Any) -> T:  # type: ignore[misc]
        """Validates value (JSON data) as tp: a model, List[Model], int, ..."""
        return pydantic.parse_obj_as(tp, value)

    def dump(model: pydantic.BaseModel) -> Dict[str, Any]:  # type: ignore[misc]
        """The model as JSON data with wire names, leaving out fields that were never set."""
        return json.loads(model.json(by_alias=True, exclude_unset=True))  # type: ignore[no-any-return]
